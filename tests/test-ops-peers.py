#!/usr/bin/python3
# tests/test-ops-peers.py: every op against PyTorch, forward and backward.
#
# Each case draws random inputs, runs the op on a tape, backpropagates
# loss = sum(out * R) for a random R, and compares the output and every
# input gradient with PyTorch computing the same in float64. The measure
# is the relative error |ours - ref| / |ref| over the whole tensor; the
# bound is 1e-5, or 1e-4 for attention and convolution.

import os

from taplib import check, finish, need_cxr, skip


Cxr, GLib = need_cxr()
try:
    import numpy as np
    import torch
    import torch.nn.functional as F
except ImportError as e:
    skip(f"a peer is missing: {e}")

torch.set_num_threads(1)
rng = np.random.default_rng(20241128)


def cxr(array, grad=False):
    array = np.ascontiguousarray(array)
    if array.dtype == np.float32:
        t = Cxr.Tensor.new_from_data(Cxr.DType.F32, list(array.shape), array.tobytes())
    elif array.dtype == np.int64:
        t = Cxr.Tensor.new_from_data(Cxr.DType.I64, list(array.shape), array.tobytes())
    else:
        raise TypeError(array.dtype)
    t.set_requires_grad(grad)
    return t


def numpy_of(t):
    return np.frombuffer(t.to_bytes().get_data(), dtype=np.float32).reshape(t.get_shape())


def rel(ours, ref):
    ref = np.asarray(ref, dtype=np.float64)
    ours = np.asarray(ours, dtype=np.float64)
    if ours.shape != ref.shape:
        return float("inf")
    scale = np.linalg.norm(ref)
    return np.linalg.norm(ours - ref) / (scale if scale > 0 else 1.0)


def case(name, ours_fn, ref_fn, inputs, bound=1e-5, grads=True):
    """inputs: a list of numpy arrays; float32 ones get gradients."""
    tape = Cxr.Tape.new()
    ts = [cxr(a, grad=grads and a.dtype == np.float32) for a in inputs]
    try:
        out = ours_fn(tape, *ts)
    except GLib.Error as e:
        check(f"{name}: runs", False, e.message)
        return
    r = rng.standard_normal(out.get_shape()).astype(np.float32)
    ref_in = [torch.tensor(a.astype(np.float64) if a.dtype == np.float32 else a,
                           requires_grad=grads and a.dtype == np.float32) for a in inputs]
    ref_out = ref_fn(*ref_in)
    errors = {"out": rel(numpy_of(out), ref_out.detach().numpy())}
    if grads:
        loss = Cxr.op_sum(tape, Cxr.op_mul(tape, out, cxr(r)))
        tape.backward(loss)
        (ref_out * torch.tensor(r.astype(np.float64))).sum().backward()
        for i, (t, rt) in enumerate(zip(ts, ref_in)):
            if rt.requires_grad:
                g = t.get_grad()
                errors[f"grad{i}"] = rel(numpy_of(g), rt.grad.numpy()) if g else float("inf")
    worst = max(errors.values())
    check(f"{name}: relative error {worst:.1e} <= {bound:.0e}", worst <= bound,
          "" if worst <= bound else repr(errors))


def f32(*shape, low=None):
    a = rng.standard_normal(shape).astype(np.float32)
    if low is not None:
        a = np.abs(a) + low
    return a


# Elementwise and broadcasting.
case("add, broadcast [2,3,4] + [3,1]", lambda t, a, b: Cxr.op_add(t, a, b), lambda a, b: a + b, [f32(2, 3, 4), f32(3, 1)])
case("sub, broadcast [4] - [2,3,4]", lambda t, a, b: Cxr.op_sub(t, a, b), lambda a, b: a - b, [f32(4), f32(2, 3, 4)])
case("mul, same shapes", lambda t, a, b: Cxr.op_mul(t, a, b), lambda a, b: a * b, [f32(5, 7), f32(5, 7)])
case("mul, broadcast [2,1,4] * [3,1]", lambda t, a, b: Cxr.op_mul(t, a, b), lambda a, b: a * b, [f32(2, 1, 4), f32(3, 1)])
case("scale", lambda t, a: Cxr.op_scale(t, a, -0.37), lambda a: a * -0.37, [f32(3, 5)])

# Activations.
case("silu", lambda t, a: Cxr.op_silu(t, a), F.silu, [f32(4, 33) * 3])
case("gelu (erf)", lambda t, a: Cxr.op_gelu(t, a, Cxr.GeluApproximation.ERF), F.gelu, [f32(4, 33) * 3])
case("gelu (tanh)", lambda t, a: Cxr.op_gelu(t, a, Cxr.GeluApproximation.TANH),
     lambda a: F.gelu(a, approximate="tanh"), [f32(4, 33) * 3])
case("quick_gelu", lambda t, a: Cxr.op_quick_gelu(t, a), lambda a: a * torch.sigmoid(1.702 * a), [f32(4, 33) * 3])
case("tanh", lambda t, a: Cxr.op_tanh(t, a), torch.tanh, [f32(4, 33)])
case("relu", lambda t, a: Cxr.op_relu(t, a), torch.relu, [f32(4, 33)])
case("sigmoid", lambda t, a: Cxr.op_sigmoid(t, a), torch.sigmoid, [f32(4, 33) * 3])
case("softmax", lambda t, a: Cxr.op_softmax(t, a), lambda a: torch.softmax(a, -1), [f32(3, 4, 19) * 4])

# The vectorised math (e^x and 1 + erf x of core/tensor) element by
# element over a wide range, forward and backward, against PyTorch in
# double precision: each value within 2e-7 + 2e-6 |exact| (float rounding
# of terms near 1, where a derivative cancels, and a relative bound in
# the tails). PyTorch's own float32 result is scored the same way.
WIDE = np.linspace(-30, 30, 60001, dtype=np.float32)
for name, ours_fn, ref_fn in [
        ("silu", Cxr.op_silu, F.silu),
        ("sigmoid", Cxr.op_sigmoid, torch.sigmoid),
        ("quick_gelu", Cxr.op_quick_gelu, lambda a: a * torch.sigmoid(1.702 * a)),
        ("gelu (erf)", lambda t, a: Cxr.op_gelu(t, a, Cxr.GeluApproximation.ERF), F.gelu),
        ("gelu (tanh)", lambda t, a: Cxr.op_gelu(t, a, Cxr.GeluApproximation.TANH),
         lambda a: F.gelu(a, approximate="tanh"))]:
    tape = Cxr.Tape.new()
    x = cxr(WIDE, grad=True)
    out = ours_fn(tape, x)
    tape.backward(Cxr.op_sum(tape, out))
    scores = {}
    for label, dtype in (("ours", torch.float64), ("torch float32", torch.float32)):
        ref_x = torch.tensor(WIDE, dtype=dtype, requires_grad=True)
        ref_out = ref_fn(ref_x)
        ref_out.sum().backward()
        if dtype == torch.float64:
            exact = (ref_out.detach().numpy(), ref_x.grad.numpy())
            got = (numpy_of(out), numpy_of(x.get_grad()))
        else:
            got = (ref_out.detach().numpy(), ref_x.grad.numpy())
        scores[label] = max(float(np.max(np.abs(g.astype(np.float64) - e) / (2e-7 + 2e-6 * np.abs(e))))
                            for g, e in zip(got, exact))
    check(f"{name} over [-30, 30], each value and its gradient within 2e-7 + 2e-6 |exact|: "
          f"worst {scores['ours']:.2f} of the bound (torch float32: {scores['torch float32']:.2f})",
          scores["ours"] <= 1.0)

# Products.
case("matmul, batched [2,3,5,7] @ [2,3,7,4]", lambda t, a, b: Cxr.op_matmul(t, a, b), torch.matmul,
     [f32(2, 3, 5, 7), f32(2, 3, 7, 4)])
case("matmul, shared [4,6,5] @ [5,3]", lambda t, a, b: Cxr.op_matmul(t, a, b), torch.matmul, [f32(4, 6, 5), f32(5, 3)])
case("linear with bias [2,3,8] -> 5", lambda t, x, w, b: Cxr.op_linear(t, x, w, b), F.linear,
     [f32(2, 3, 8), f32(5, 8), f32(5)])
case("linear without bias", lambda t, x, w: Cxr.op_linear(t, x, w, None), lambda x, w: F.linear(x, w),
     [f32(7, 8), f32(3, 8)])

# Normalisation.
case("layer_norm [4,7,16]", lambda t, x, w, b: Cxr.op_layer_norm(t, x, w, b, 1e-5),
     lambda x, w, b: F.layer_norm(x, (16,), w, b, 1e-5), [f32(4, 7, 16) * 2 + 1, f32(16), f32(16)])
# Rows far from zero with a small spread: the statistics take one pass of
# sums shifted by the row's first value, which must not cancel. In float32
# the mean itself rounds to a step that is not small against the spread,
# for PyTorch as for us: ours must be no further from float64 than
# PyTorch's float32 is (forward and input gradient).
for name, ours_fn, ref_fn, shape, spread, offset in [
        ("layer_norm [3,5,64]", lambda t, x, w, b: Cxr.op_layer_norm(t, x, w, b, 1e-5),
         lambda x, w, b: F.layer_norm(x, (64,), w, b, 1e-5), (3, 5, 64), 0.02, 300.0),
        ("group_norm [2,6,9,9], 3 groups", lambda t, x, w, b: Cxr.op_group_norm(t, x, 3, w, b, 1e-6),
         lambda x, w, b: F.group_norm(x, 3, w, b, 1e-6), (2, 6, 9, 9), 0.1, -500.0)]:
    features = shape[1] if "group" in name else shape[-1]
    xs, ws, bs = f32(*shape) * spread + offset, f32(features), f32(features)
    r = rng.standard_normal(shape)
    tape = Cxr.Tape.new()
    xt = cxr(xs, grad=True)
    out = ours_fn(tape, xt, cxr(ws), cxr(bs))
    tape.backward(Cxr.op_sum(tape, Cxr.op_mul(tape, out, cxr(r.astype(np.float32)))))
    results = {}
    for dtype in (torch.float64, torch.float32):
        x = torch.tensor(xs, dtype=dtype, requires_grad=True)
        y = ref_fn(x, torch.tensor(ws, dtype=dtype), torch.tensor(bs, dtype=dtype))
        (y * torch.tensor(r, dtype=dtype)).sum().backward()
        results[dtype] = (y.detach().numpy(), x.grad.numpy())
    exact = results[torch.float64]
    ours = max(rel(numpy_of(out), exact[0]), rel(numpy_of(xt.get_grad()), exact[1]))
    theirs = max(rel(results[torch.float32][0], exact[0]), rel(results[torch.float32][1], exact[1]))
    check(f"{name}, values near {offset:g} with spread {spread:g}: relative error {ours:.1e} "
          f"(PyTorch float32: {theirs:.1e})", ours <= max(theirs, 1e-5))
case("group_norm [2,8,5,6], 4 groups", lambda t, x, w, b: Cxr.op_group_norm(t, x, 4, w, b, 1e-6),
     lambda x, w, b: F.group_norm(x, 4, w, b, 1e-6), [f32(2, 8, 5, 6) + 0.5, f32(8), f32(8)])
case("group_norm [2,6,7] without affine", lambda t, x: Cxr.op_group_norm(t, x, 3, None, None, 1e-5),
     lambda x: F.group_norm(x, 3, eps=1e-5), [f32(2, 6, 7)])
mean, var = f32(3), f32(3, low=0.5)
case("batch_norm (inference)", lambda t, x, w, b: Cxr.op_batch_norm(t, x, cxr(mean), cxr(var), w, b, 1e-5),
     lambda x, w, b: F.batch_norm(x, torch.tensor(mean, dtype=torch.float64), torch.tensor(var, dtype=torch.float64),
                                  w, b, False, 0.0, 1e-5),
     [f32(2, 3, 4, 5), f32(3), f32(3)])

case("batch_norm (training: batch statistics)",
     lambda t, x, w, b: Cxr.op_batch_norm_train(t, x, w, b, None, None, 0.1, 1e-5),
     lambda x, w, b: F.batch_norm(x, None, None, w, b, True, 0.1, 1e-5), [f32(3, 4, 5, 6) * 2 + 1, f32(4), f32(4)])
case("batch_norm (training) of [N, C]", lambda t, x: Cxr.op_batch_norm_train(t, x, None, None, None, None, 0.1, 1e-5),
     lambda x: F.batch_norm(x, None, None, None, None, True, 0.1, 1e-5), [f32(7, 5)])
# the running statistics move as torch's (momentum 0.1, unbiased variance)
x_bn = f32(4, 3, 5, 5) * 3 + 2
rm0, rv0 = f32(3), f32(3, low=0.5)
rm_c, rv_c = cxr(rm0), cxr(rv0)
Cxr.op_batch_norm_train(None, cxr(x_bn), None, None, rm_c, rv_c, 0.1, 1e-5)
rm_t, rv_t = torch.tensor(rm0, dtype=torch.float64), torch.tensor(rv0, dtype=torch.float64)
F.batch_norm(torch.tensor(x_bn, dtype=torch.float64), rm_t, rv_t, None, None, True, 0.1, 1e-5)
e_stats = max(rel(numpy_of(rm_c), rm_t.numpy()), rel(numpy_of(rv_c), rv_t.numpy()))
check(f"batch_norm (training) updates the running statistics as torch: relative error {e_stats:.1e} <= 1e-6",
      e_stats <= 1e-6)

# Images.
case("conv2d 3x3 stride 1 pad 1", lambda t, x, w, b: Cxr.op_conv2d(t, x, w, b, 1, 1),
     lambda x, w, b: F.conv2d(x, w, b, 1, 1), [f32(2, 3, 9, 9), f32(4, 3, 3, 3), f32(4)], bound=1e-4)
case("conv2d 3x3 stride 2 pad 1, odd size", lambda t, x, w, b: Cxr.op_conv2d(t, x, w, b, 2, 1),
     lambda x, w, b: F.conv2d(x, w, b, 2, 1), [f32(2, 5, 11, 7), f32(6, 5, 3, 3), f32(6)], bound=1e-4)
case("conv2d 1x1", lambda t, x, w, b: Cxr.op_conv2d(t, x, w, b, 1, 0),
     lambda x, w, b: F.conv2d(x, w, b), [f32(2, 8, 5, 6), f32(3, 8, 1, 1), f32(3)], bound=1e-4)
case("conv2d 4x4 stride 2, no bias", lambda t, x, w: Cxr.op_conv2d(t, x, w, None, 2, 0),
     lambda x, w: F.conv2d(x, w, None, 2), [f32(1, 2, 10, 10), f32(3, 2, 4, 4)], bound=1e-4)
case("upsample nearest 2x", lambda t, x: Cxr.op_upsample_nearest2x(t, x),
     lambda x: F.interpolate(x, scale_factor=2.0, mode="nearest"), [f32(2, 3, 4, 5)])
case("resize_bilinear 7x5 -> 13x11 (up)", lambda t, x: Cxr.op_resize_bilinear(t, x, 13, 11),
     lambda x: F.interpolate(x, size=(13, 11), mode="bilinear", align_corners=False), [f32(2, 3, 7, 5)])
case("resize_bilinear 17x12 -> 6x5 (down)", lambda t, x: Cxr.op_resize_bilinear(t, x, 6, 5),
     lambda x: F.interpolate(x, size=(6, 5), mode="bilinear", align_corners=False), [f32(2, 2, 17, 12)])
case("avg_pool2d 2/2", lambda t, x: Cxr.op_avg_pool2d(t, x, 2, 2), lambda x: F.avg_pool2d(x, 2, 2), [f32(2, 3, 8, 6)])
case("max_pool2d 3/2", lambda t, x: Cxr.op_max_pool2d(t, x, 3, 2), lambda x: F.max_pool2d(x, 3, 2), [f32(2, 3, 9, 7)])
case("conv2d 1x7 padding (0, 3)", lambda t, x, w, b: Cxr.op_conv2d_full(t, x, w, b, 1, 0, 3),
     lambda x, w, b: F.conv2d(x, w, b, 1, (0, 3)), [f32(2, 4, 9, 8), f32(5, 4, 1, 7), f32(5)], bound=1e-4)
case("conv2d 3x1 stride 2 padding (1, 0)", lambda t, x, w: Cxr.op_conv2d_full(t, x, w, None, 2, 1, 0),
     lambda x, w: F.conv2d(x, w, None, 2, (1, 0)), [f32(2, 3, 11, 6), f32(4, 3, 3, 1)], bound=1e-4)


def conv3x3_case(n, c, co, h, w, what, bias=True):
    """A 3x3 convolution, stride 1, padding 1, with its gradients."""
    name = f"conv2d 3x3 pad 1, {c} -> {co} channels at {h}x{w}, batch {n}{'' if bias else ', no bias'} ({what})"
    if bias:
        case(name, lambda t, x, wt, b: Cxr.op_conv2d(t, x, wt, b, 1, 1), lambda x, wt, b: F.conv2d(x, wt, b, 1, 1),
             [f32(n, c, h, w), f32(co, c, 3, 3), f32(co)], bound=1e-4)
    else:
        case(name, lambda t, x, wt: Cxr.op_conv2d(t, x, wt, None, 1, 1), lambda x, wt: F.conv2d(x, wt, None, 1, 1),
             [f32(n, c, h, w), f32(co, c, 3, 3)], bound=1e-4)


# Sizes past the blocks of the engine's own product (core/tensor/cpu/gemm.c:
# panels of 14 rows and 32 columns, K in blocks of 256, or of up to 4608
# when the taps are read in place, rows in blocks of 336, columns in blocks
# of 2048), with partial panels and tiles at the edges.
conv3x3_case(2, 40, 350, 20, 37, "blocks of the product")
conv3x3_case(5, 6, 20, 30, 30, "many images")
# K = 4680 and 5400 with 128 output channels: weights of over 1 MB per
# block of K, so the product runs in two deep blocks with the panels of
# weights outer (_cxr_gemm_depth), the weights read in place (3 images of
# 8x8, 96 columns each) and packed (4 images of 12x12, 192 columns each),
# the images of the batch in one product; and with rows of whole tiles
conv3x3_case(3, 520, 128, 8, 8, "deep blocks of K, weights in place")
conv3x3_case(4, 600, 128, 12, 12, "deep blocks of K, weights packed")
conv3x3_case(2, 520, 128, 4, 32, "deep blocks of K, rows of whole tiles")
# output rows of whole tiles (64 wide): only the real pixels are computed,
# written straight into the output over the bias; the input's gradient too
conv3x3_case(2, 40, 35, 9, 64, "rows of whole tiles")
conv3x3_case(1, 30, 20, 6, 32, "rows of whole tiles", bias=False)
case("conv2d 3x3 stride 2 pad 1, 30 -> 20 channels at 50x50 (blocks of the product)",
     lambda t, x, w, b: Cxr.op_conv2d(t, x, w, b, 2, 1), lambda x, w, b: F.conv2d(x, w, b, 2, 1),
     [f32(3, 30, 50, 50), f32(20, 30, 3, 3), f32(20)], bound=1e-4)
case("conv2d 1x1, 300 -> 17 channels at 40x60 (blocks of the product)",
     lambda t, x, w, b: Cxr.op_conv2d(t, x, w, b, 1, 0), lambda x, w, b: F.conv2d(x, w, b),
     [f32(2, 300, 40, 60), f32(17, 300, 1, 1), f32(17)], bound=1e-4)
case("linear [3,300,270] -> 350 (blocks of the product)", lambda t, x, w, b: Cxr.op_linear(t, x, w, b), F.linear,
     [f32(3, 300, 270), f32(350, 270), f32(350)])
case("matmul [70,300] @ [300,2100] (blocks of the product)", lambda t, a, b: Cxr.op_matmul(t, a, b), torch.matmul,
     [f32(70, 300), f32(300, 2100)])
# narrow products read A in place (at most 64 columns of B; a convolution's
# weights up to 512 columns of the batch), its partial last panel packed once
case("conv2d 3x3 pad 1, 40 -> 30 channels at 4x4 (weights read in place)",
     lambda t, x, w, b: Cxr.op_conv2d(t, x, w, b, 1, 1), lambda x, w, b: F.conv2d(x, w, b, 1, 1),
     [f32(2, 40, 4, 4), f32(30, 40, 3, 3), f32(30)], bound=1e-4)
case("conv2d 3x3 pad 1, 40 -> 50 channels at 12x12 (weights read in place, 6 tiles, no step packs)",
     lambda t, x, w, b: Cxr.op_conv2d(t, x, w, b, 1, 1), lambda x, w, b: F.conv2d(x, w, b, 1, 1),
     [f32(2, 40, 12, 12), f32(50, 40, 3, 3), f32(50)], bound=1e-4)
case("linear [90,300] -> 20 (A read in place)", lambda t, x, w, b: Cxr.op_linear(t, x, w, b), F.linear,
     [f32(90, 300), f32(20, 300), f32(20)])
# 17 to 64 rows against at least 2^18 weights: the transposed product,
# weights read in place (forward, and dx in backward)
case("linear [40,300] -> 1000 (few rows, transposed product)", lambda t, x, w, b: Cxr.op_linear(t, x, w, b),
     F.linear, [f32(40, 300), f32(1000, 300), f32(1000)])
case("linear [17,700] -> 380 (few rows, transposed product)", lambda t, x, w, b: Cxr.op_linear(t, x, w, b),
     F.linear, [f32(17, 700), f32(380, 700), f32(380)])
case("matmul [2,64,300] @ [2,300,900] (few rows per product, transposed)", lambda t, a, b: Cxr.op_matmul(t, a, b),
     torch.matmul, [f32(2, 64, 300), f32(2, 300, 900)])
# otherwise at most 64 rows: on OpenBLAS
case("linear [40,300] -> 350 (few rows)", lambda t, x, w, b: Cxr.op_linear(t, x, w, b), F.linear,
     [f32(40, 300), f32(350, 300), f32(350)])
case("linear [16,600] -> 600 (16 rows)", lambda t, x, w, b: Cxr.op_linear(t, x, w, b), F.linear,
     [f32(16, 600), f32(600, 600), f32(600)])
kernel = Cxr.get_matrix_kernel()
with open("/proc/cpuinfo") as cpuinfo:
    has_avx512 = " avx512f" in cpuinfo.read()
expected = "avx512" if has_avx512 and os.environ.get("CXRGEN_GEMM") != "openblas" else "openblas"
check(f"the products above ran on the {kernel} kernel (CPU with AVX-512: {has_avx512}, "
      f"CXRGEN_GEMM={os.environ.get('CXRGEN_GEMM', '(unset)')})", kernel == expected, f"expected {expected}")

case("avg_pool2d 3/1 pad 1, count_include_pad=False",
     lambda t, x: Cxr.op_avg_pool2d_full(t, x, 3, 1, 1, False),
     lambda x: F.avg_pool2d(x, 3, 1, 1, count_include_pad=False), [f32(2, 3, 8, 7)])
case("avg_pool2d 3/2 pad 1, count_include_pad=True",
     lambda t, x: Cxr.op_avg_pool2d_full(t, x, 3, 2, 1, True),
     lambda x: F.avg_pool2d(x, 3, 2, 1), [f32(2, 3, 8, 7)])
case("max_pool2d 3/1 pad 1", lambda t, x: Cxr.op_max_pool2d_full(t, x, 3, 1, 1),
     lambda x: F.max_pool2d(x, 3, 1, 1), [f32(2, 3, 7, 6)])
case("max_pool2d 3/2 pad 1", lambda t, x: Cxr.op_max_pool2d_full(t, x, 3, 2, 1),
     lambda x: F.max_pool2d(x, 3, 2, 1), [f32(2, 3, 9, 8)])
case("adaptive_avg_pool2d 7x5 -> 3x2", lambda t, x: Cxr.op_adaptive_avg_pool2d(t, x, 3, 2),
     lambda x: F.adaptive_avg_pool2d(x, (3, 2)), [f32(2, 4, 7, 5)])

# Sequences.
ids = np.array([[3, 0, 10, 3, 7], [1, 1, 2, 9, 4]], dtype=np.int64)
case("embedding with repeated ids", lambda t, w, i: Cxr.op_embedding(t, w, i), lambda w, i: F.embedding(i, w),
     [f32(11, 6), ids])
mask = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=np.float32)
bce_y = (rng.random((6, 14)) < 0.4).astype(np.float32)
bce_mask = (rng.random((6, 14)) < 0.7).astype(np.float32)
case("binary_cross_entropy with logits", lambda t, z: Cxr.op_binary_cross_entropy_logits(t, z, cxr(bce_y), None),
     lambda z: F.binary_cross_entropy_with_logits(z, torch.tensor(bce_y, dtype=torch.float64)), [f32(6, 14) * 4])
case("binary_cross_entropy with logits, masked (uncertain labels left out)",
     lambda t, z: Cxr.op_binary_cross_entropy_logits(t, z, cxr(bce_y), cxr(bce_mask)),
     lambda z: (F.binary_cross_entropy_with_logits(z, torch.tensor(bce_y, dtype=torch.float64), reduction="none")
                * torch.tensor(bce_mask, dtype=torch.float64)).sum() / bce_mask.sum(), [f32(6, 14) * 4])
case("masked_mean", lambda t, x: Cxr.op_masked_mean(t, x, cxr(mask)),
     lambda x: (x * torch.tensor(mask, dtype=torch.float64)[..., None]).sum(1) / torch.tensor(mask, dtype=torch.float64).sum(1, keepdim=True),
     [f32(2, 5, 6)])


def ref_attention(q, k, v, key_mask=None, causal=False):
    s = q @ k.transpose(-1, -2) / (q.shape[-1] ** 0.5)
    if key_mask is not None:
        s = s.masked_fill(torch.tensor(key_mask)[:, None, None, :] == 0, float("-inf"))
    if causal:
        lq, lk = s.shape[-2:]
        s = s.masked_fill(torch.ones(lq, lk, dtype=torch.bool).triu(1), float("-inf"))
    return torch.softmax(s, -1) @ v


case("attention [2,3,37,16] x 53 keys", lambda t, q, k, v: Cxr.op_attention(t, q, k, v, None, False, 0),
     ref_attention, [f32(2, 3, 37, 16), f32(2, 3, 53, 16), f32(2, 3, 53, 8)], bound=1e-4)
kmask = (rng.random((2, 150)) > 0.3).astype(np.float32)
kmask[:, 0] = 1
case("attention, 150 keys over two tiles, key padding mask",
     lambda t, q, k, v: Cxr.op_attention(t, q, k, v, cxr(kmask), False, 0),
     lambda q, k, v: ref_attention(q, k, v, kmask), [f32(2, 2, 70, 8), f32(2, 2, 150, 8), f32(2, 2, 150, 8)], bound=1e-4)
case("attention, causal, 140 tokens", lambda t, q, k, v: Cxr.op_attention(t, q, k, v, None, True, 0),
     lambda q, k, v: ref_attention(q, k, v, causal=True), [f32(1, 2, 140, 8), f32(1, 2, 140, 8), f32(1, 2, 140, 8)],
     bound=1e-4)
steps = np.array([981.0, 1.0, 500.0], dtype=np.float32)


def ref_timesteps(timesteps, dim, flip, shift):
    # diffusers' get_timestep_embedding, in float32 as it computes it
    half = dim // 2
    exponent = -np.log(10000) * torch.arange(0, half, dtype=torch.float32)
    exponent = exponent / (half - shift)
    emb = torch.tensor(timesteps)[:, None].float() * torch.exp(exponent)[None, :]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], -1)
    if flip:
        emb = torch.cat([emb[:, half:], emb[:, :half]], -1)
    return emb


for dim, flip, shift in [(320, True, 0.0), (64, False, 1.0)]:
    ours = numpy_of(Cxr.op_timestep_embedding(cxr(steps), dim, flip, shift, 1.0, 10000.0))
    ref = ref_timesteps(steps, dim, flip, shift).numpy()
    err = np.abs(ours - ref).max()
    check(f"timestep embedding dim {dim}, flip {flip}, shift {shift}: max error {err:.1e} <= 1e-4", err <= 1e-4)

# Shapes.
case("reshape", lambda t, x: Cxr.op_reshape(t, x, [3, -1]), lambda x: x.reshape(3, -1), [f32(2, 3, 4)])
case("permute (2, 0, 1)", lambda t, x: Cxr.op_permute(t, x, [2, 0, 1]), lambda x: x.permute(2, 0, 1), [f32(2, 3, 4)])
case("concat along 1", lambda t, a, b, c: Cxr.op_concat(t, [a, b, c], 1), lambda a, b, c: torch.cat([a, b, c], 1),
     [f32(2, 3, 4), f32(2, 1, 4), f32(2, 5, 4)])
case("slice 1:4 of dim -1", lambda t, x: Cxr.op_slice(t, x, -1, 1, 4), lambda x: x[..., 1:4], [f32(3, 2, 6)])

# Reductions and losses.
case("sum", lambda t, x: Cxr.op_sum(t, x), torch.sum, [f32(3, 7)])
case("mean", lambda t, x: Cxr.op_mean(t, x), torch.mean, [f32(3, 7)])
case("mse", lambda t, a, b: Cxr.op_mse(t, a, b), F.mse_loss, [f32(4, 9), f32(4, 9)])
targets = np.array([2, -100, 0, 4, 4, -100, 1], dtype=np.int64)
case("cross_entropy, ignore_index -100", lambda t, x, y: Cxr.op_cross_entropy(t, x, y, -100),
     lambda x, y: F.cross_entropy(x, y, ignore_index=-100), [f32(7, 5) * 3, targets])
case("cosine_similarity", lambda t, a, b: Cxr.op_cosine_similarity(t, a, b, 1e-8),
     lambda a, b: F.cosine_similarity(a, b, -1, 1e-8), [f32(6, 10), f32(6, 10)])

# A small network end to end: linear, GELU, layer norm, attention, loss.
x, w1, b1, w2, g, bb = f32(2, 9, 12), f32(24, 12), f32(24), f32(12, 24), f32(12), f32(12)


def ours_block(t, x, w1, b1, w2, g, bb):
    h = Cxr.op_gelu(t, Cxr.op_linear(t, x, w1, b1), Cxr.GeluApproximation.ERF)
    h = Cxr.op_layer_norm(t, Cxr.op_add(t, x, Cxr.op_linear(t, h, w2, None)), g, bb, 1e-5)
    q = Cxr.op_reshape(t, h, [2, 1, 9, 12])
    return Cxr.op_attention(t, q, q, q, None, True, 0)


def ref_block(x, w1, b1, w2, g, bb):
    h = F.gelu(F.linear(x, w1, b1))
    h = F.layer_norm(x + F.linear(h, w2), (12,), g, bb, 1e-5)
    q = h.reshape(2, 1, 9, 12)
    return ref_attention(q, q, q, causal=True)


case("a transformer block end to end", ours_block, ref_block, [x, w1, b1, w2, g, bb], bound=1e-4)

# AdamW and gradient clipping against torch.optim.AdamW and clip_grad_norm_.
params = Cxr.ParamSet.new()
params.add("w", [3, 4])
params.add("b", [5])
params.allocate()
init = {"w": f32(3, 4), "b": f32(5)}
for name, value in init.items():
    params.get(name).set_data(value.tobytes())
opt = Cxr.AdamW.new(params)
opt.props.lr = 1e-2
opt.props.weight_decay = 0.1
ref = {name: torch.tensor(value, requires_grad=True) for name, value in init.items()}
ref_opt = torch.optim.AdamW(list(ref.values()), lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.1)
worst = 0.0
norms = []
for step in range(6):
    grads = {name: (f32(*value.shape) * 3).astype(np.float32) for name, value in init.items()}
    params.zero_grad()
    ref_opt.zero_grad()
    for name, g in grads.items():
        params.get(name).get_grad().set_data(g.tobytes())
        ref[name].grad = torch.tensor(g)
    ours_norm = params.clip_grad_norm(1.0)
    ref_norm = torch.nn.utils.clip_grad_norm_(list(ref.values()), 1.0).item()
    norms.append(abs(ours_norm - ref_norm) / ref_norm)
    opt.step(0)
    ref_opt.step()
    for name in init:
        worst = max(worst, rel(numpy_of(params.get(name)), ref[name].detach().numpy()))
check(f"clip_grad_norm matches PyTorch: relative error {max(norms):.1e} <= 1e-6", max(norms) <= 1e-6)
check(f"AdamW matches torch.optim.AdamW over 6 clipped steps: relative error {worst:.1e} <= 1e-6", worst <= 1e-6)

finish(always=True)
