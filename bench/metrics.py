#!/usr/bin/python3
# bench/metrics.py: the evaluators' speed. The report labeler's throughput
# on synthetic MIMIC-style reports (there is no other labeler here to run:
# the CheXpert labeler needs NegBio and a parser), and FID of two 2048-d
# feature sets of 10,000 rows, cxrgen against numpy + scipy (pytorch-fid's
# formula) in the same process. Run with bench/run-metrics.
import os
import statistics
import time

import gi

gi.require_version("Cxr", "1.0")
from gi.repository import Cxr  # noqa: E402
import numpy as np  # noqa: E402
from scipy import linalg  # noqa: E402

THREADS = int(os.environ.get("CXRGEN_THREADS", "2"))
Cxr.set_num_threads(THREADS)
rng = np.random.default_rng(0)

SENTENCES = [
    "There is a small left pleural effusion.", "No pneumothorax.", "Heart size is normal.",
    "Mild pulmonary edema.", "Possible right lower lobe pneumonia.", "No focal consolidation.",
    "The endotracheal tube terminates 4 cm above the carina.", "Bibasilar atelectasis.",
    "Cardiomediastinal silhouette is within normal limits.", "Moderate cardiomegaly.",
    "Opacity at the left base may reflect atelectasis or consolidation.", "No acute fracture.",
    "Lungs are clear.", "Stable 1 cm nodule in the right upper lobe.", "Pleural thickening at the apices.",
]
reports = []
for _ in range(20000):
    k = rng.integers(3, 9)
    body = " ".join(rng.choice(SENTENCES, size=k))
    reports.append(f"FINDINGS: {body}\n\nIMPRESSION: {rng.choice(SENTENCES)}")

labeler = Cxr.Labeler.new()
start = time.perf_counter()
for r in reports:
    labeler.label(r)
elapsed = time.perf_counter() - start
rate = len(reports) / elapsed
print(f"labeler: {len(reports)} reports in {elapsed:.2f} s: {rate:.0f} reports/s on one thread "
      f"(MIMIC-CXR's 227,835 reports: {227835 / rate / 60:.1f} min)")

d, n = 2048, 10000
a = rng.standard_normal((n, d)).astype(np.float32)
b = (rng.standard_normal((n, d)) * 1.05 + 0.02).astype(np.float32)


def ours():
    sa, sb = Cxr.FeatureStats.new(d), Cxr.FeatureStats.new(d)
    for x, s in ((a, sa), (b, sb)):
        for i in range(0, n, 1000):
            chunk = np.ascontiguousarray(x[i:i + 1000])
            s.update(Cxr.Tensor.new_from_data(Cxr.DType.F32, list(chunk.shape), chunk.tobytes()))
    _, m1, c1 = sa.finish()
    _, m2, c2 = sb.finish()
    return Cxr.metrics_frechet_distance(m1, c1, m2, c2)


def theirs():
    a64, b64 = a.astype(np.float64), b.astype(np.float64)
    m1, m2 = a64.mean(0), b64.mean(0)
    s1, s2 = np.cov(a64, rowvar=False), np.cov(b64, rowvar=False)
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    diff = m1 - m2
    return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real)


def timed(fn):
    times, value = [], None
    for _ in range(3):
        t0 = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), value


t_ours, v_ours = timed(ours)
t_theirs, v_theirs = timed(theirs)
print(f"FID 2048-d, 2 x {n} rows: cxrgen {t_ours:.2f} s, numpy+scipy {t_theirs:.2f} s, ratio {t_ours / t_theirs:.2f}; "
      f"values {v_ours:.6f} and {v_theirs:.6f} (relative difference {abs(v_ours - v_theirs) / v_theirs:.1e})")
