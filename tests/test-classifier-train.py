#!/usr/bin/python3
# tests/test-classifier-train.py: classifier-train against PyTorch, and on
# phantoms.
#
# 1. A small torchvision DenseNet with random weights and batch-norm
#    statistics takes two AdamW steps in cxrgen and in PyTorch (train
#    mode, masked binary cross-entropy, gradient clipping) on the same
#    phantom images: the losses, the trained weights and the running
#    statistics agree.
# 2. A small DenseNet from random weights learns the phantom's findings:
#    the macro AUROC on the test split (sklearn's roc_auc_score over the
#    evaluated scores) rises well above that of the untrained network.
import csv
import json
import os
import subprocess
import sys
import tempfile

from taplib import check, finish, skip

sys.path.insert(0, os.path.join(os.environ.get("CXRGEN_TEST_SRCDIR", "."), "tests", "reference"))

try:
    import numpy as np
    import torch
    import torchvision
    from sklearn.metrics import roc_auc_score
except ImportError as e:
    skip(f"a peer is missing: {e}")

from common import csv_floats, load_safetensors, randomize_batch_norms, save_safetensors  # noqa: E402

torch.set_num_threads(2)


def run(tmp, text):
    path = f"{tmp}/c.pipeline"
    with open(path, "w") as fp:
        fp.write(text)
    return subprocess.run(["cxrgen", "run", path, "--progress", "none"], capture_output=True, text=True)


def source(root, split, size, batch, epochs=1, shuffle="false", name="src"):
    return f"""
[stage {name}]
type=mimic-cxr-source
root={root}
split={split}
image-size={size}
batch-size={batch}
label-encoding=chexpert
epochs={epochs}
shuffle={shuffle}
seed=3
"""


OBSERVATIONS = {"No Finding", "Enlarged Cardiomediastinum", "Cardiomegaly", "Lung Lesion", "Lung Opacity", "Edema",
                "Consolidation", "Pneumonia", "Atelectasis", "Pneumothorax", "Pleural Effusion", "Pleural Other",
                "Fracture", "Support Devices"}


def labels_of(row):
    """A csv-sink row's label vector (its columns are the observations, in
    the field's order; blank is NaN)."""
    return np.array([float(v) if v != "" else np.nan for k, v in row.items() if k in OBSERVATIONS])


def rel(a, b):
    return float((a.double() - b.double()).norm() / max(b.double().norm(), 1e-30))


MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)

with tempfile.TemporaryDirectory() as tmp:
    root = f"{tmp}/phantom"
    p = subprocess.run(["cxrgen", "phantom", "--count", "400", "--out", root, "--seed", "11", "--size", "64"],
                       capture_output=True, text=True)
    check("a 400-study phantom", p.returncode == 0, p.stderr)

    # 1. two steps against PyTorch
    torch.manual_seed(0)
    net = randomize_batch_norms(torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16,
                                                            bn_size=2, num_classes=14))
    save_safetensors(f"{tmp}/start.safetensors", {k: v for k, v in net.state_dict().items()
                                                  if not k.endswith("num_batches_tracked")})
    p = run(tmp, f"""
[model net]
type=densenet
weights={tmp}/start.safetensors
{source(root, "train", 32, 6)}
[stage train]
type=classifier-train
input=src
model=net
lr=0.001
max-steps=2
max-grad-norm=0.5
uncertain=ones
output={tmp}/trained/model.safetensors

[stage out]
type=csv-sink
input=train
path={tmp}/steps.csv
columns=id,loss,step,labels,image
""")
    check("classifier-train runs two steps", p.returncode == 0, p.stderr)
    rows = list(csv.DictReader(open(f"{tmp}/steps.csv"))) if p.returncode == 0 else []
    trained = [r for r in rows if r["loss"] not in ("nan", "")]
    if len(trained) >= 12:
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01)
        net.train()
        losses = []
        for step in range(2):
            batch = trained[step * 6:(step + 1) * 6]
            gray = torch.tensor(np.stack([csv_floats(r, "image") for r in batch]), dtype=torch.float32).view(6, 1, 32, 32)
            labels = torch.tensor(np.stack([labels_of(r) for r in batch]), dtype=torch.float32)
            # CheXpert encoding: 1, 0, -1 (uncertain: ones here), blank (negative)
            target = ((labels == 1) | (labels == -1)).float()
            x = (gray.repeat(1, 3, 1, 1) - MEAN) / STD
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x), target)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 0.5)
            opt.step()
            losses.append(loss.item())
        ours = [float(trained[0]["loss"]), float(trained[6]["loss"])]
        e_loss = max(abs(a - b) / abs(b) for a, b in zip(ours, losses))
        check(f"the two steps' losses as PyTorch's ({ours[0]:.5f}, {ours[1]:.5f}): relative {e_loss:.1e} <= 1e-5",
              e_loss <= 1e-5)
        out = {k: torch.from_numpy(v.copy()) for k, v in load_safetensors(f"{tmp}/trained/model.safetensors").items()}
        state = {k: v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
        params = [k for k in state if "running" not in k]
        stats = [k for k in state if "running" in k]
        e_w = max(rel(out[k], state[k]) for k in params)
        e_s = max(rel(out[k], state[k]) for k in stats)
        check(f"the trained weights as PyTorch's AdamW: worst tensor relative {e_w:.1e} <= 1e-4", e_w <= 1e-4)
        check(f"the running statistics as PyTorch's train(): worst tensor relative {e_s:.1e} <= 1e-5",
              e_s <= 1e-5 and set(out) == set(state))
    else:
        check("two trained batches of 6", False, f"{len(trained)} trained rows")

    # 2. learning the phantom's findings from random weights
    with open(f"{tmp}/small.json", "w") as fp:
        json.dump({"growth_rate": 8, "block_config": [2, 2, 2], "num_init_features": 16, "bn_size": 2,
                   "num_classes": 14, "in_channels": 1}, fp)

    def evaluated_rows(weights_line, split):
        """The rows (id, loss, scores, labels) of an evaluate=true run on a split."""
        p = run(tmp, f"""
[model net]
type=densenet
{weights_line}
{source(root, split, 64, 16)}
[stage eval]
type=classifier-train
input=src
model=net
normalize=half
evaluate=true

[stage out]
type=csv-sink
input=eval
path={tmp}/eval.csv
columns=id,loss,scores,labels
""")
        return (list(csv.DictReader(open(f"{tmp}/eval.csv"))), "") if p.returncode == 0 else (None, p.stderr)

    def evaluate(weights_line):
        rows, stderr = evaluated_rows(weights_line, "test")
        if rows is None:
            return None, stderr
        scores = np.stack([[float(v) for k, v in r.items() if k.startswith("scores.")] for r in rows])
        labels = np.stack([labels_of(r) for r in rows])
        aurocs = []
        for k in range(14):
            keep = labels[:, k] != -1  # uncertain left out
            y = (labels[keep, k] == 1).astype(int)
            if 0 < y.sum() < len(y):
                aurocs.append(roc_auc_score(y, scores[keep, k]))
        return float(np.mean(aurocs)), f"{len(rows)} test images, {len(aurocs)} observations with both classes"

    before, detail0 = evaluate(f"config={tmp}/small.json\nrandom-weights=true\nseed=5")
    p = run(tmp, f"""
[model net]
type=densenet
config={tmp}/small.json
random-weights=true
seed=5
{source(root, "train", 64, 16, epochs=10, shuffle="true")}
{source(root, "validate", 64, 16, name="val")}
[stage train]
type=classifier-train
input=src
input.validate=val
validate-every=50
validation-log={tmp}/learned/validation.csv
model=net
normalize=half
lr=0.003
weight-decay=0
output={tmp}/learned/model.safetensors

[stage out]
type=csv-sink
input=train
path={tmp}/curve.csv
columns=loss,step
""")
    check("classifier-train from random weights on the phantom's train split", p.returncode == 0, p.stderr)
    curve_rows = list(csv.DictReader(open(f"{tmp}/curve.csv"))) if p.returncode == 0 else []
    curve = [float(r["loss"]) for r in curve_rows]
    curve_steps = [r["step"] for r in curve_rows] or ["-1"]
    after, detail1 = evaluate(f"weights={tmp}/learned/model.safetensors") if curve else (None, "no training")
    if before is not None and after is not None:
        first, last = np.mean(curve[:20]), np.mean(curve[-20:])
        check(f"the training loss falls ({first:.3f} -> {last:.3f})", last < 0.8 * first)
        check(f"the test split's macro AUROC rises from {before:.3f} to {after:.3f} (>= 0.72)",
              after >= 0.72 and after > before + 0.1, f"{detail0}; {detail1}")
    else:
        check("evaluation before and after training", False, f"{detail0}; {detail1}")

    # validation inside the run: the log's last row is the loss evaluate=true
    # measures on the same split with the trained weights
    log = list(csv.DictReader(open(f"{tmp}/learned/validation.csv"))) if curve else []
    rows, stderr = evaluated_rows(f"weights={tmp}/learned/model.safetensors", "validate")
    if log and rows:
        steps = [int(r["step"]) for r in log]
        measured = float(log[-1]["loss"])
        reference = float(np.mean([float(r["loss"]) for r in rows]))
        check(f"validation inside the run at steps {steps}: the last ({measured:.6f}) is evaluate=true's on the "
              f"validate split ({reference:.6f})", steps[-1] == int(curve_steps[-1]) and len(steps) >= 3 and
              steps == sorted(set(steps)) and all(s % 50 == 0 for s in steps[1:-1]) and
              abs(measured - reference) <= 1e-5 * abs(reference) and
              int(log[-1]["samples"]) == len(rows), str(log))
    else:
        check("validation inside the run", False, stderr + str(log))

    # bad input: a classifier with 18 outputs, a bad policy
    xrv = torchvision.models.DenseNet(growth_rate=8, block_config=(2,), num_init_features=16, bn_size=2, num_classes=18)
    save_safetensors(f"{tmp}/xrv.safetensors", {k: v for k, v in xrv.state_dict().items()
                                                if not k.endswith("num_batches_tracked")})
    for name, model, extra, needle in (
            ("a classifier with 18 outputs: an error that says 14 are needed", f"weights={tmp}/xrv.safetensors", "",
             "18 outputs"),
            ("uncertain=maybe: an error naming the choices", f"weights={tmp}/start.safetensors", "uncertain=maybe",
             "ignore, zeros or ones")):
        p = run(tmp, f"""
[model net]
type=densenet
{model}
{source(root, "train", 32, 4)}
[stage train]
type=classifier-train
input=src
model=net
{extra}
output={tmp}/bad/model.safetensors
""")
        check(name, p.returncode != 0 and needle in p.stderr and not os.path.exists(f"{tmp}/bad/model.safetensors"),
              p.stderr)
finish(always=True)
