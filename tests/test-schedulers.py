#!/usr/bin/python3
# tests/test-schedulers.py: CxrNoiseScheduler against the formulas, written
# here independently in numpy (float64): SD's scaled-linear schedule,
# noising and v targets, the timesteps of each sampler, and whole sampling
# loops of DDIM (eta 0 and 1), PNDM's PLMS, Euler and DDPM with a stand-in
# denoiser, for epsilon and v prediction.
import numpy as np

from taplib import check, finish, need_cxr

Cxr, GLib = need_cxr()
rng = np.random.default_rng(3)
T = 1000


def tensor(a):
    a = np.ascontiguousarray(a, dtype=np.float32)
    return Cxr.Tensor.new_from_data(Cxr.DType.F32, list(a.shape), a.tobytes())


def array(t):
    return np.frombuffer(t.to_bytes().get_data(), dtype=np.float32).reshape(t.get_shape()).astype(np.float64)


betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, T) ** 2
acp = np.cumprod(1 - betas)


def scheduler(kind, prediction=Cxr.PredictionType.EPSILON, **props):
    s = Cxr.NoiseScheduler.new(kind)
    s.set_property("prediction-type", prediction)
    for k, v in props.items():
        s.set_property(k.replace("_", "-"), v)
    return s


s = scheduler(Cxr.SamplerKind.DDIM)
ours = np.array([s.get_alpha_cumprod(t) for t in range(T)])
check("alphas_cumprod of the scaled-linear schedule (0.00085..0.012, 1000)",
      np.abs(ours / acp - 1).max() < 1e-12, f"{np.abs(ours / acp - 1).max()}")
check("the final alpha is a_0 (set_alpha_to_one false)", s.get_alpha_cumprod(-1) == ours[0])
lin = scheduler(Cxr.SamplerKind.DDIM, beta_schedule="linear", beta_start=0.0001, beta_end=0.02)
want = np.cumprod(1 - np.linspace(0.0001, 0.02, T))
check("and of the linear one", abs(lin.get_alpha_cumprod(500) / want[500] - 1) < 1e-12)

# noising and targets
x0 = rng.standard_normal((3, 4, 8, 8))
noise = rng.standard_normal((3, 4, 8, 8))
ts = np.array([0, 500, 999])
tt = Cxr.Tensor.new_from_data(Cxr.DType.I64, [3], ts.astype(np.int64).tobytes())
a = acp[ts][:, None, None, None]
got = array(s.add_noise(tensor(x0), tensor(noise), tt))
check("add_noise is sqrt(a) x0 + sqrt(1 - a) noise", np.abs(got - (np.sqrt(a) * x0 + np.sqrt(1 - a) * noise)).max() < 1e-5)
v = scheduler(Cxr.SamplerKind.DDIM, Cxr.PredictionType.V)
got = array(v.get_target(tensor(x0), tensor(noise), tt))
check("the v target is sqrt(a) noise - sqrt(1 - a) x0",
      np.abs(got - (np.sqrt(a) * noise - np.sqrt(1 - a) * x0)).max() < 1e-5)
check("the epsilon target is the noise", np.abs(array(s.get_target(tensor(x0), tensor(noise), tt)) - noise).max() < 1e-6)
try:
    bad = Cxr.Tensor.new_from_data(Cxr.DType.I64, [3], np.array([0, 1, 1000], dtype=np.int64).tobytes())
    s.add_noise(tensor(x0), tensor(noise), bad)
    check("a timestep outside 0..999 is an error", False)
except GLib.Error as e:
    check("a timestep outside 0..999 is an error", "1000" in e.message, e.message)

# timesteps
s.set_timesteps(50)
check("DDIM's 50 timesteps: 981, 961, ..., 1", list(s.get_timesteps()) == list(range(981, 0, -20)), str(s.get_timesteps()))
p = scheduler(Cxr.SamplerKind.PNDM)
p.set_timesteps(50)
check("PNDM's: 51 calls at 981, 961, 961, 941, ..., 1",
      list(p.get_timesteps()) == [981, 961] + list(range(961, 0, -20)), str(p.get_timesteps()))
e = scheduler(Cxr.SamplerKind.EULER)
e.set_timesteps(50)
check("Euler's: linspace(0, 999, 50) descending", np.abs(np.array(e.get_timesteps()) - np.linspace(0, 999, 50)[::-1]).max() < 1e-9)
sig = np.sqrt((1 - acp) / acp)
sig_want = np.interp(np.linspace(0, 999, 50)[::-1], np.arange(T), sig)
check("Euler's initial noise is its largest sigma", abs(e.get_init_noise_sigma() - sig_want[0]) < 1e-9)


def denoiser(x, t):
    """A stand-in denoiser, smooth in x and t."""
    return 0.3 * x + 0.1 * np.sin(t / 100.0 + np.arange(x.size).reshape(x.shape) % 7)


def split(pred, x, a, kind):
    if kind == "eps":
        return (x - np.sqrt(1 - a) * pred) / np.sqrt(a), pred
    return np.sqrt(a) * x - np.sqrt(1 - a) * pred, np.sqrt(a) * pred + np.sqrt(1 - a) * x


def ddim_loop(x, steps, eta, kind, noises):
    ratio = T // steps
    for i, t in enumerate(range((steps - 1) * ratio + 1, 0, -ratio)):
        a, ap = acp[t], (acp[t - ratio] if t - ratio >= 0 else acp[0])
        x0, eps = split(denoiser(x, t), x, a, kind)
        std = eta * np.sqrt((1 - ap) / (1 - a) * (1 - a / ap))
        x = np.sqrt(ap) * x0 + np.sqrt(1 - ap - std ** 2) * eps + std * noises[i]
    return x


def plms_loop(x, steps, kind):
    ratio = T // steps
    ets, outs = [], []
    times = [(steps - 1) * ratio + 1] + list(range((steps - 2) * ratio + 1, 0, -ratio))
    times.insert(1, times[1])
    cur = None
    for i, t in enumerate(times):
        out = denoiser(x, t)
        prev = t - ratio
        if i == 1:
            prev, t = t, t + ratio
        else:
            ets.append(out)
        if i == 0:
            eps, cur, base = out, x, x
        elif i == 1:
            eps, base = (out + ets[-1]) / 2, cur
        elif len(ets) == 2:
            eps, base = (3 * ets[-1] - ets[-2]) / 2, x
        elif len(ets) == 3:
            eps, base = (23 * ets[-1] - 16 * ets[-2] + 5 * ets[-3]) / 12, x
        else:
            eps, base = (55 * ets[-1] - 59 * ets[-2] + 37 * ets[-3] - 9 * ets[-4]) / 24, x
        a, ap = acp[t], (acp[prev] if prev >= 0 else acp[0])
        if kind == "v":
            eps = np.sqrt(a) * eps + np.sqrt(1 - a) * base
        x = np.sqrt(ap / a) * base - (ap - a) * eps / (a * np.sqrt(1 - ap) + np.sqrt(a * (1 - a) * ap))
    return x


def euler_loop(x, steps, kind):
    ts = np.linspace(0, T - 1, steps)[::-1]
    sigmas = list(np.interp(ts, np.arange(T), sig)) + [0.0]
    x = x * sigmas[0]
    for i, t in enumerate(ts):
        s_ = sigmas[i]
        out = denoiser(x / np.sqrt(s_ ** 2 + 1), t)
        x0 = x - s_ * out if kind == "eps" else out * (-s_ / np.sqrt(s_ ** 2 + 1)) + x / (s_ ** 2 + 1)
        x = x + (x - x0) / s_ * (sigmas[i + 1] - s_)
    return x


def ours_loop(sched, x, steps, noises=None):
    sched.set_timesteps(steps)
    x = x * sched.get_init_noise_sigma()
    xt = tensor(x)
    for i, t in enumerate(sched.get_timesteps()):
        inp = array(sched.scale_model_input(xt, i))
        out = tensor(denoiser(inp, t))
        xt = sched.step(out, i, xt, tensor(noises[i]) if noises is not None else None)
    return array(xt)


x = rng.standard_normal((2, 4, 4, 4))
noises = rng.standard_normal((20, 2, 4, 4, 4))
for kind, pred in (("eps", Cxr.PredictionType.EPSILON), ("v", Cxr.PredictionType.V)):
    for eta in (0.0, 1.0):
        got = ours_loop(scheduler(Cxr.SamplerKind.DDIM, pred, eta=eta), x, 20, noises)
        want = ddim_loop(x, 20, eta, kind, noises)
        err = np.abs(got - want).max() / np.abs(want).max()
        check(f"DDIM, eta {eta}, {kind}: 20 steps match the formulas (rel. error {err:.1e})", err < 1e-4)
    got = ours_loop(scheduler(Cxr.SamplerKind.PNDM, pred), x, 20)
    want = plms_loop(x, 20, kind)
    err = np.abs(got - want).max() / np.abs(want).max()
    check(f"PNDM (PLMS), {kind}: 21 calls match the formulas (rel. error {err:.1e})", err < 1e-4)
    got = ours_loop(scheduler(Cxr.SamplerKind.EULER, pred), x, 20)
    want = euler_loop(x, 20, kind)
    err = np.abs(got - want).max() / np.abs(want).max()
    check(f"Euler, {kind}: 20 steps match the formulas (rel. error {err:.1e})", err < 1e-4)

# DDPM's step: the posterior mean plus its deviation
d = scheduler(Cxr.SamplerKind.DDPM)
d.set_timesteps(10)
t = int(d.get_timesteps()[0])
out = denoiser(x, t)
got = array(d.step(tensor(out), 0, tensor(x), tensor(noises[0])))
a, ap = acp[t], acp[t - 100]
x0 = (x - np.sqrt(1 - a) * out) / np.sqrt(a)
beta = 1 - a / ap
want = (np.sqrt(ap) * beta / (1 - a)) * x0 + (np.sqrt(1 - beta) * (1 - ap) / (1 - a)) * x + \
    np.sqrt((1 - ap) / (1 - a) * beta) * noises[0]
check("DDPM's step is the posterior mean plus its deviation", np.abs(got - want).max() < 1e-4)

# misuse
fresh = scheduler(Cxr.SamplerKind.DDIM)
try:
    fresh.step(tensor(x), 0, tensor(x), None)
    check("a step before set_timesteps is an error", False)
except GLib.Error as e:
    check("a step before set_timesteps is an error", "set_timesteps" in e.message, e.message)
p.set_timesteps(10)
try:
    p.step(tensor(x), 3, tensor(x), None)
    check("PNDM's steps out of order are an error", False)
except GLib.Error as e:
    check("PNDM's steps out of order are an error", "order" in e.message, e.message)
try:
    fresh.set_timesteps(0)
    check("0 steps is an error", False)
except GLib.Error as e:
    check("0 steps is an error", "steps" in e.message, e.message)
try:
    s5 = scheduler(Cxr.SamplerKind.DDIM, eta=0.5)
    s5.set_timesteps(5)
    s5.step(tensor(x), 0, tensor(x), None)
    check("DDIM with eta > 0 and no noise is an error", False)
except GLib.Error as e:
    check("DDIM with eta > 0 and no noise is an error", "noise" in e.message, e.message)

finish()
