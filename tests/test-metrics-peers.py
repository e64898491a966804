#!/usr/bin/python3
# tests/test-metrics-peers.py: F1 and AUROC against scikit-learn, FID
# against the scipy sqrtm formula pytorch-fid uses, feature statistics
# against numpy, KID against a numpy implementation, and the `cxrgen
# metrics` and `cxrgen label` commands end to end.
import json
import math
import os
import subprocess
import tempfile

from taplib import check, finish, need_cxr, skip


Cxr, GLib = need_cxr()
try:
    import numpy as np
    from scipy import linalg
    from sklearn.metrics import precision_recall_fscore_support, roc_auc_score
except ImportError as e:
    skip(f"a peer is missing: {e}")

rng = np.random.default_rng(7)
NAMES = list(Cxr.labels_get_observations())


def cxr(array):
    array = np.ascontiguousarray(array)
    dtype = {np.dtype(np.float32): Cxr.DType.F32, np.dtype(np.float64): Cxr.DType.F64}[array.dtype]
    return Cxr.Tensor.new_from_data(dtype, list(array.shape), array.tobytes())


def numpy_of(t):
    np_dtype = {Cxr.DType.F32: np.float32, Cxr.DType.F64: np.float64}[t.get_dtype()]
    return np.frombuffer(t.to_bytes().get_data(), dtype=np_dtype).reshape(t.get_shape())


def chexpert_labels(n, c):
    """1, 0, -1 and blank (NaN), as the labeler writes them."""
    v = rng.choice([1.0, 0.0, -1.0, np.nan], size=(n, c), p=[0.3, 0.3, 0.1, 0.3]).astype(np.float32)
    return v


# ---- F1 against precision_recall_fscore_support.
pred, ref = chexpert_labels(300, 14), chexpert_labels(300, 14)
ref[:, 5] = 0.0  # an observation with no positive reference: zero_division
for policy, name, as_pos in [(Cxr.UncertainPolicy.AS_NEGATIVE, "negative", 0), (Cxr.UncertainPolicy.AS_POSITIVE, "positive", 1)]:
    ours = numpy_of(Cxr.metrics_f1(cxr(pred), cxr(ref), policy))
    yp = np.where(pred == 1, 1, np.where(pred == -1, as_pos, 0))
    yr = np.where(ref == 1, 1, np.where(ref == -1, as_pos, 0))
    p, r, f, s = precision_recall_fscore_support(yr, yp, average=None, zero_division=0)
    mp, mr, mf, _ = precision_recall_fscore_support(yr, yp, average="micro", zero_division=0)
    Mp, Mr, Mf, _ = precision_recall_fscore_support(yr, yp, average="macro", zero_division=0)
    want = np.vstack([np.stack([p, r, f, s], 1), [mp, mr, mf, s.sum()], [Mp, Mr, Mf, s.sum()]])
    diff = np.abs(ours - want).max()
    check(f"F1 with uncertain as {name} equals scikit-learn to the last rounding ({diff:.0e} <= 1e-15)",
          diff <= 1e-15, f"max difference {diff}")
ours = numpy_of(Cxr.metrics_f1(cxr(pred), cxr(ref), Cxr.UncertainPolicy.EXCLUDED))
good = True
for k in range(14):
    keep = (pred[:, k] != -1) & (ref[:, k] != -1)
    want = precision_recall_fscore_support((ref[keep, k] == 1).astype(int), (pred[keep, k] == 1).astype(int),
                                           average="binary", zero_division=0)
    good &= np.abs(ours[k, :3] - np.array(want[:3])).max() <= 1e-15
check("F1 with uncertain excluded equals scikit-learn per observation", good)

# ---- AUROC against roc_auc_score, with ties and an undefined column.
scores = rng.random((400, 14)).astype(np.float64)
scores[:, 3] = np.round(scores[:, 3] * 5) / 5  # many ties
labels = chexpert_labels(400, 14)
labels[:, 7] = 0.0  # one class only
ours = numpy_of(Cxr.metrics_auroc(cxr(scores), cxr(labels), Cxr.UncertainPolicy.AS_NEGATIVE, 0, 1))
worst, defined = 0.0, []
for k in range(14):
    y = (labels[:, k] == 1).astype(int)
    if y.min() == y.max():
        check(f"AUROC of a one-class observation ({NAMES[k]}) is undefined, not 0.5", math.isnan(ours[k, 0]))
        continue
    a = roc_auc_score(y, scores[:, k])
    defined.append(a)
    worst = max(worst, abs(ours[k, 0] - a))
check(f"AUROC equals roc_auc_score to {worst:.1e} <= 1e-12 (ties included)", worst <= 1e-12)
check("the macro AUROC averages the defined observations", abs(ours[14, 0] - np.mean(defined)) <= 1e-12)
boot = numpy_of(Cxr.metrics_auroc(cxr(scores), cxr(labels), Cxr.UncertainPolicy.AS_NEGATIVE, 200, 3))
inside = all(boot[k, 1] <= boot[k, 0] <= boot[k, 2] for k in range(14) if not math.isnan(boot[k, 0]))
again = numpy_of(Cxr.metrics_auroc(cxr(scores), cxr(labels), Cxr.UncertainPolicy.AS_NEGATIVE, 200, 3))
check("bootstrap intervals hold the estimate and repeat with the seed",
      inside and np.array_equal(np.nan_to_num(boot), np.nan_to_num(again)))

# ---- Feature statistics, FID and KID.
a = (rng.standard_normal((500, 64)) @ rng.standard_normal((64, 64)) * 0.3 + 5.0).astype(np.float32)
b = (rng.standard_normal((400, 64)) * 1.1 + 5.2).astype(np.float32)
stats = Cxr.FeatureStats.new(64)
for start in range(0, 500, 128):  # in batches: streaming
    stats.update(cxr(a[start:start + 128]))
ok, mu_t, sigma_t = stats.finish()
mu, sigma = numpy_of(mu_t), numpy_of(sigma_t)
a64 = a.astype(np.float64)
check("streamed mean and covariance equal numpy's (mean, cov) to 1e-10",
      np.abs(mu - a64.mean(0)).max() <= 1e-10 and np.abs(sigma - np.cov(a64, rowvar=False)).max() <= 1e-10)


def fid_scipy(mu1, s1, mu2, s2):
    """The formula of pytorch-fid, with scipy's sqrtm."""
    covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
    covmean = covmean.real
    diff = mu1 - mu2
    return diff.dot(diff) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean)


b64 = b.astype(np.float64)
mu_b, s_b = b64.mean(0), np.cov(b64, rowvar=False)
ours_fid = Cxr.metrics_frechet_distance(cxr(a64.mean(0)), cxr(np.cov(a64, rowvar=False)), cxr(mu_b), cxr(s_b))
ref_fid = fid_scipy(a64.mean(0), np.cov(a64, rowvar=False), mu_b, s_b)
check(f"FID equals the scipy sqrtm formula: relative error {abs(ours_fid - ref_fid) / ref_fid:.1e} <= 1e-6",
      abs(ours_fid - ref_fid) / ref_fid <= 1e-6, f"{ours_fid} vs {ref_fid}")
same = Cxr.metrics_frechet_distance(cxr(mu_b), cxr(s_b), cxr(mu_b), cxr(s_b))
check(f"FID of a set with itself is 0 ({same:.1e})", abs(same) <= 1e-8)
# fewer samples than dimensions: singular covariances stay real
small_a, small_b = a64[:20], b64[:30]
ours_small = Cxr.metrics_frechet_distance(cxr(small_a.mean(0)), cxr(np.cov(small_a, rowvar=False)),
                                          cxr(small_b.mean(0)), cxr(np.cov(small_b, rowvar=False)))
ref_small = fid_scipy(small_a.mean(0), np.cov(small_a, rowvar=False), small_b.mean(0), np.cov(small_b, rowvar=False))
check(f"FID with singular covariances: relative error {abs(ours_small - ref_small) / ref_small:.1e} <= 1e-6",
      abs(ours_small - ref_small) / ref_small <= 1e-6)


def kid_numpy(x, y):
    d = x.shape[1]
    k = lambda p, q: (p @ q.T / d + 1) ** 3  # noqa: E731
    m = x.shape[0]
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1)) - 2 * kxy.mean()


x, y = a64[:300], b64[:300]
ok_kid = Cxr.metrics_kid(cxr(x), cxr(y), 1, 300, 0)
ours_kid = ok_kid[0] if isinstance(ok_kid, tuple) else ok_kid
ref_kid = kid_numpy(x, y)
check(f"KID on whole sets equals numpy: relative error {abs(ours_kid - ref_kid) / abs(ref_kid):.1e} <= 1e-9",
      abs(ours_kid - ref_kid) / abs(ref_kid) <= 1e-9)

# ---- The evaluator stages, driven through the harness.
registry = Cxr.Registry.get_default()


def batch_of(**fields):
    n = len(next(iter(fields.values())))
    b = Cxr.Batch.new(n)
    for name, value in fields.items():
        value = np.ascontiguousarray(value, dtype=np.float32)
        b.set_floats(name, value.shape[1], value.ravel().tolist())
    return b


stage = registry.make_stage("eval-f1", "f1")
stage.props.predicted_field = "pred"
h = Cxr.Harness.new(stage)
h.prepare()
for start in range(0, 300, 64):
    h.push(0, batch_of(pred=pred[start:start + 64], labels=ref[start:start + 64]))
h.finish()
table = json.loads(stage.props.result)
want = numpy_of(Cxr.metrics_f1(cxr(pred), cxr(ref), Cxr.UncertainPolicy.AS_NEGATIVE))
check("eval-f1 over a stream of batches gives the F1 of the whole",
      abs(table["micro"]["f1"] - want[14, 2]) < 1e-15 and abs(table["Edema"]["recall"] - want[3, 1]) < 1e-15)

stage = registry.make_stage("eval-auroc", "auroc")
h = Cxr.Harness.new(stage)
h.prepare()
for start in range(0, 400, 100):
    h.push(0, batch_of(scores=scores[start:start + 100], labels=labels[start:start + 100]))
h.finish()
table = json.loads(stage.props.result)
check("eval-auroc gives roc_auc_score, null where undefined",
      table["Lung Opacity"]["auroc"] is None
      and abs(table["Edema"]["auroc"] - roc_auc_score((labels[:, 3] == 1).astype(int), scores[:, 3])) < 1e-12)

stage = registry.make_stage("eval-fid", "fid")
stage.props.kid = True
stage.props.kid_subsets = 1
stage.props.kid_subset_size = 400
h = Cxr.Harness.new(stage)
h.prepare()
for start in range(0, 500, 128):
    h.push(0, batch_of(features=a[start:start + 128]))
for start in range(0, 400, 128):
    h.push(1, batch_of(features=b[start:start + 128]))
h.finish()
result = json.loads(stage.props.result)
b32 = b.astype(np.float32).astype(np.float64)
ref_fid = fid_scipy(a64.mean(0), np.cov(a64, rowvar=False), b32.mean(0), np.cov(b32, rowvar=False))
check(f"eval-fid on two streams equals the scipy formula (relative {abs(result['fid'] - ref_fid) / ref_fid:.1e})",
      abs(result["fid"] - ref_fid) / ref_fid <= 1e-6 and result["real"] == 500 and result["fake"] == 400
      and result["kid"] is not None)

# ---- The commands.
env = dict(os.environ)
src = os.environ["CXRGEN_TEST_SRCDIR"]


def run(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True, env=env)


with tempfile.TemporaryDirectory() as tmp:
    def write_csv(path, matrix, ids=None, blank=True):
        with open(path, "w") as f:
            f.write(",".join((["id"] if ids is not None else []) + NAMES) + "\n")
            for i, row in enumerate(matrix):
                cells = ["" if (blank and math.isnan(v)) else repr(float(v)) for v in row]
                f.write(",".join(([ids[i]] if ids is not None else []) + cells) + "\n")

    ids = [f"s{i}" for i in range(300)]
    order = rng.permutation(300)
    write_csv(f"{tmp}/pred.csv", pred, ids)
    write_csv(f"{tmp}/ref.csv", ref[order], [ids[i] for i in order])  # shuffled: aligned by id
    r = run("metrics", "f1", "--pred", f"{tmp}/pred.csv", "--ref", f"{tmp}/ref.csv", "--json")
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    want = numpy_of(Cxr.metrics_f1(cxr(pred), cxr(ref), Cxr.UncertainPolicy.AS_NEGATIVE))
    check("cxrgen metrics f1 --json aligns rows by id and prints scikit-learn's numbers",
          r.returncode == 0 and abs(out["micro"]["f1"] - want[14, 2]) < 1e-12
          and abs(out["observations"]["Pneumonia"]["precision"] - want[11, 0]) < 1e-12, r.stderr)

    write_csv(f"{tmp}/scores.csv", scores, blank=False)
    write_csv(f"{tmp}/labels.csv", labels)
    r = run("metrics", "auroc", "--scores", f"{tmp}/scores.csv", "--labels", f"{tmp}/labels.csv", "--json")
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    check("cxrgen metrics auroc --json: undefined as null, values as roc_auc_score",
          r.returncode == 0 and out["observations"]["Lung Opacity"]["auroc"] is None
          and abs(out["observations"]["Edema"]["auroc"] - roc_auc_score((labels[:, 3] == 1).astype(int), scores[:, 3])) < 1e-12,
          r.stderr)
    with open(f"{tmp}/bad-scores.csv", "w") as f:
        f.write(",".join(NAMES) + "\n" + ",".join(["0.5"] * 13 + [""]) + "\n")
    r = run("metrics", "auroc", "--scores", f"{tmp}/bad-scores.csv", "--labels", f"{tmp}/labels.csv")
    check("a missing score is an error naming the file, line and column",
          r.returncode == 1 and "bad-scores.csv:2: column Support Devices: a score is missing" in r.stderr, r.stderr)

    np.save(f"{tmp}/real.npy", a)
    np.save(f"{tmp}/fake.npy", b64)
    r = run("metrics", "fid", "--real", f"{tmp}/real.npy", "--fake", f"{tmp}/fake.npy", "--json", "--kid",
            "--kid-subsets", "3", "--kid-subset-size", "100", "--save-stats-real", f"{tmp}/real.safetensors")
    out = json.loads(r.stdout) if r.returncode == 0 else {}
    ref_fid = fid_scipy(a64.mean(0), np.cov(a64, rowvar=False), mu_b, s_b)
    check("cxrgen metrics fid on .npy features equals the scipy formula",
          r.returncode == 0 and abs(out["fid"] - ref_fid) / ref_fid <= 1e-6 and out["real"] == 500
          and out["kid"] is not None, r.stderr)
    r = run("metrics", "fid", "--real", f"{tmp}/real.safetensors", "--fake", f"{tmp}/fake.npy", "--json")
    out2 = json.loads(r.stdout) if r.returncode == 0 else {}
    check("saved statistics give the same FID", r.returncode == 0 and abs(out2.get("fid", 0) - out["fid"]) < 1e-9,
          r.stderr)
    np.save(f"{tmp}/one.npy", a[:1])
    r = run("metrics", "fid", "--real", f"{tmp}/one.npy", "--fake", f"{tmp}/fake.npy")
    check("one feature vector is refused: FID needs at least 2",
          r.returncode == 1 and "at least 2 feature vectors" in r.stderr, r.stderr)

    r = run("label", f"{src}/pipelines/data/chexpert/sample_reports.csv", "-o", f"{tmp}/labeled.csv")
    with open(f"{tmp}/labeled.csv") as f1, open(f"{src}/pipelines/data/chexpert/labeled_reports.csv") as f2:
        import csv
        same = list(csv.reader(f1)) == list(csv.reader(f2))
    check("cxrgen label writes what the CheXpert labeler writes for its samples", r.returncode == 0 and same,
          r.stderr)

    r = run("run", f"{src}/pipelines/evaluate-reports.pipeline", "--set", f"OUT={tmp}/ev", "--progress", "none")
    f1 = json.load(open(f"{tmp}/ev/f1.json")) if r.returncode == 0 else {}
    check("pipelines/evaluate-reports.pipeline labels the samples as the CheXpert labeler does (micro F1 1)",
          r.returncode == 0 and f1["micro"]["f1"] == 1.0 and f1["micro"]["support"] == 6, r.stderr)

finish()
