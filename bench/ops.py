#!/usr/bin/python3
# bench/ops.py: the hot ops at the mission's shapes, forward and
# forward+backward, cxrgen against PyTorch (CPU) in the same process, on
# the same threads. Run it with bench/run-ops, which sets the environment
# both sides are measured in. Prints, per op: median milliseconds of each,
# cxrgen's GFLOP/s, its fraction of the sgemm peak measured in this run,
# and the ratio cxrgen / PyTorch (below 1: cxrgen is faster).
import os
import sys

import gi

gi.require_version("Cxr", "1.0")
from gi.repository import Cxr  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
import timing  # noqa: E402

THREADS = int(os.environ.get("CXRGEN_THREADS", "2"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "15"))
ONLY = os.environ.get("BENCH_ONLY")  # run only the ops whose name holds this
torch.set_num_threads(THREADS)
Cxr.set_num_threads(THREADS)
rng = np.random.default_rng(0)


def tensor_pair(*shape, grad=False):
    a = rng.standard_normal(shape).astype(np.float32)
    t = Cxr.Tensor.new_from_data(Cxr.DType.F32, list(shape), a.tobytes())
    t.set_requires_grad(grad)
    return t, torch.tensor(a, requires_grad=grad)


def median_ms(fn):
    return timing.median_ms(fn, REPEAT)


def ours_step(build, inputs, backward):
    def run():
        tape = Cxr.Tape.new() if backward else None
        out = build(tape, *inputs)
        if backward:
            loss = Cxr.op_sum(tape, out)
            tape.backward(loss)
            for t in inputs:
                if t.get_requires_grad():
                    t.set_grad(None)  # as PyTorch's side drops its .grad
    return run


def torch_step(build, inputs, backward):
    def run():
        if backward:
            out = build(*inputs)
            out.sum().backward()
            for t in inputs:
                if t.grad is not None:
                    t.grad = None
        else:
            with torch.no_grad():
                build(*inputs)
    return run


rows = []


def bench(name, flops, ours_build, torch_build, shapes, backward_factor=3.0):
    if ONLY and ONLY not in name:
        return
    for backward in (False, True):
        pairs = [tensor_pair(*s, grad=backward) for s in shapes]
        ours, theirs, ratio = timing.paired_ms(ours_step(ours_build, [p[0] for p in pairs], backward),
                                               torch_step(torch_build, [p[1] for p in pairs], backward), REPEAT)
        work = flops * (backward_factor if backward else 1.0)
        rows.append((name + (" fwd+bwd" if backward else " fwd"), ours, theirs, ratio, work / ours / 1e6))


# The sgemm ceiling of this run: a large square product.
n = 2048
a, _ = tensor_pair(n, n)
b, _ = tensor_pair(n, n)
peak_ms = median_ms(lambda: Cxr.op_matmul(None, a, b))
peak = 2 * n ** 3 / peak_ms / 1e6

B, C, H = 4, 320, 32
bench("conv3x3 320->320 @32x32 b4", 2 * B * C * C * 9 * H * H,
      lambda t, x, w, bb: Cxr.op_conv2d(t, x, w, bb, 1, 1), lambda x, w, bb: F.conv2d(x, w, bb, 1, 1),
      [(B, C, H, H), (C, C, 3, 3), (C,)])
bench("linear 768->3072 @512 tokens", 2 * 512 * 768 * 3072,
      lambda t, x, w, bb: Cxr.op_linear(t, x, w, bb), F.linear, [(512, 768), (3072, 768), (3072,)])
bench("self-attention 1024 tok, 8x40", 4 * 8 * 1024 * 1024 * 40,
      lambda t, q, k, v: Cxr.op_attention(t, q, k, v, None, False, 0),
      lambda q, k, v: torch.softmax(q @ k.transpose(-1, -2) / 40 ** 0.5, -1) @ v,
      [(1, 8, 1024, 40)] * 3, backward_factor=2.5)
bench("cross-attention 1024 x 77 tok", 4 * 8 * 1024 * 77 * 40,
      lambda t, q, k, v: Cxr.op_attention(t, q, k, v, None, False, 0),
      lambda q, k, v: torch.softmax(q @ k.transpose(-1, -2) / 40 ** 0.5, -1) @ v,
      [(1, 8, 1024, 40), (1, 8, 77, 40), (1, 8, 77, 40)], backward_factor=2.5)
bench("group_norm 32 groups 320x32x32", 8 * 320 * 32 * 32,
      lambda t, x, w, bb: Cxr.op_group_norm(t, x, 32, w, bb, 1e-5), lambda x, w, bb: F.group_norm(x, 32, w, bb, 1e-5),
      [(1, 320, 32, 32), (320,), (320,)])

print(f"threads {THREADS}, median of {REPEAT} rounds (cxrgen, then PyTorch), OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")
print(f"matrix-product peak in this run: {peak:.1f} GFLOP/s (cxrgen's 2048^3 matmul on its "
      f"{Cxr.get_matrix_kernel()} kernel, {peak_ms:.1f} ms)")
print(f"{'op':38} {'cxrgen ms':>10} {'torch ms':>10} {'GFLOP/s':>9} {'of peak':>8} {'ratio':>7}")
for name, ours, theirs, ratio, gflops in rows:
    print(f"{name:38} {ours:10.2f} {theirs:10.2f} {gflops:9.1f} {gflops / peak:8.0%} {ratio:7.2f}")
print("ratio: the median of the rounds' ratios, not the ratio of the medians")

# Attention memory: linear in the sequence length (the tiles are fixed);
# PyTorch's unfused reference holds the Lq x Lk scores.
print("attention activations kept for backward: output + one float per query row;")
for L in (1024, 4096):
    scores = 8 * L * L * 4 / 2 ** 20
    kept = (8 * L * 40 + 8 * L) * 4 / 2 ** 20
    print(f"  L={L}: cxrgen keeps {kept:.1f} MiB, an unfused softmax(QK^T)V keeps {scores:.0f} MiB of scores")
sys.exit(0)
