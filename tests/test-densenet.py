#!/usr/bin/python3
# tests/test-densenet.py: the densenet model and the classify stage against
# torchvision's DenseNet: a small network (growth 8, blocks 2-3-2) with
# random weights and batch-norm statistics, saved with torchvision's tensor
# names (under a "module." prefix, as DataParallel checkpoints are), scores
# the phantom's radiographs as torch scores them.
import csv
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
    from PIL import Image
except ImportError as e:
    skip(f"a peer is missing: {e}")

from common import load_safetensors, randomize_batch_norms, save_safetensors  # noqa: E402


def run(tmp, text):
    path = f"{tmp}/c.pipeline"
    with open(path, "w") as fp:
        fp.write(text)
    return subprocess.run(["cxrgen", "run", path, "--progress", "none"], capture_output=True, text=True)


def pipeline(root, weights, out, activation="sigmoid", normalize="imagenet"):
    return f"""
[model net]
type=densenet
weights={weights}

[stage src]
type=mimic-cxr-source
root={root}
split=any
image-size=64
batch-size=5

[stage scores]
type=classify
input=src
model=net
activation={activation}
normalize={normalize}

[stage out]
type=csv-sink
input=scores
path={out}
columns=id,scores
"""


torch.manual_seed(0)
net = randomize_batch_norms(torchvision.models.DenseNet(growth_rate=8, block_config=(2, 3, 2), num_init_features=16,
                                                        bn_size=2, num_classes=14))
net.eval()

with tempfile.TemporaryDirectory() as tmp:
    weights = f"{tmp}/densenet.safetensors"
    state = {f"module.{k}": v for k, v in net.state_dict().items() if not k.endswith("num_batches_tracked")}
    save_safetensors(weights, state)
    root = f"{tmp}/phantom"
    p = subprocess.run(["cxrgen", "phantom", "--count", "12", "--out", root, "--seed", "4", "--size", "64"],
                       capture_output=True, text=True)
    check("a 12-study phantom", p.returncode == 0, p.stderr)

    p = run(tmp, pipeline(root, weights, f"{tmp}/scores.csv"))
    check("mimic-cxr-source into classify into csv-sink", p.returncode == 0, p.stderr)
    rows = list(csv.DictReader(open(f"{tmp}/scores.csv"))) if p.returncode == 0 else []
    meta = {m["dicom_id"]: m for m in csv.DictReader(open(f"{root}/mimic-cxr-2.0.0-metadata.csv"))}

    def torch_scores(activation):
        images = []
        for r in rows:
            m = meta[r["id"]]
            s = m["subject_id"]
            g = np.asarray(Image.open(f"{root}/files/p{s[:2]}/p{s}/s{m['study_id']}/{r['id']}.jpg").convert("L"),
                           dtype=np.float32) / 255
            images.append(np.stack([g, g, g]))
        x = torch.from_numpy(np.stack(images))
        x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        with torch.no_grad():
            y = net(x)
        return torch.sigmoid(y).numpy() if activation == "sigmoid" else y.numpy()

    ours = np.array([[float(v) for k, v in r.items() if k != "id"] for r in rows])
    if len(rows) == 12:
        theirs = torch_scores("sigmoid")
        diff = np.abs(ours - theirs).max()
        check(f"sigmoid scores as torchvision's DenseNet (max difference {diff:.1e} <= 1e-5)",
              ours.shape == (12, 14) and diff <= 1e-5)
    else:
        check("sigmoid scores as torchvision's DenseNet", False, f"{len(rows)} rows")

    p = run(tmp, pipeline(root, weights, f"{tmp}/logits.csv", "none"))
    rows = list(csv.DictReader(open(f"{tmp}/logits.csv"))) if p.returncode == 0 else []
    ours = np.array([[float(v) for k, v in r.items() if k != "id"] for r in rows])
    theirs = torch_scores("none") if len(rows) == 12 else None
    diff = np.abs(ours - theirs).max() / max(1.0, np.abs(theirs).max()) if theirs is not None else 1
    check(f"activation=none gives the logits (relative difference {diff:.1e} <= 1e-5)", diff <= 1e-5, p.stderr)

    # torchxrayvision's layout: one input channel, 18 outputs, [-1024, 1024]
    xrv = torchvision.models.DenseNet(growth_rate=8, block_config=(2, 2), num_init_features=16, bn_size=2,
                                      num_classes=18)
    xrv.features.conv0 = torch.nn.Conv2d(1, 16, kernel_size=7, stride=2, padding=3, bias=False)
    xrv.eval()
    save_safetensors(f"{tmp}/xrv.safetensors", {k: v for k, v in xrv.state_dict().items()
                                                 if not k.endswith("num_batches_tracked")})
    p = run(tmp, pipeline(root, f"{tmp}/xrv.safetensors", f"{tmp}/xrv.csv", "sigmoid", "xrv"))
    rows = list(csv.DictReader(open(f"{tmp}/xrv.csv"))) if p.returncode == 0 else []
    ours = np.array([[float(v) for k, v in r.items() if k != "id"] for r in rows])
    if len(rows) == 12:
        images = []
        for r in rows:
            m = meta[r["id"]]
            s = m["subject_id"]
            g = np.asarray(Image.open(f"{root}/files/p{s[:2]}/p{s}/s{m['study_id']}/{r['id']}.jpg").convert("L"),
                           dtype=np.float32) / 255
            images.append(((2 * g - 1) * 1024)[None])
        with torch.no_grad():
            theirs = torch.sigmoid(xrv(torch.from_numpy(np.stack(images)))).numpy()
        diff = np.abs(ours - theirs).max()
        check(f"a torchxrayvision-layout DenseNet (1 channel, 18 outputs, normalize=xrv): max difference "
              f"{diff:.1e} <= 1e-5", ours.shape == (12, 18) and diff <= 1e-5)
    else:
        check("a torchxrayvision-layout DenseNet", False, p.stderr)

    # as an image encoder: `cxrgen metrics fid --model-type densenet` embeds
    # folders of images with the pooled features (bilinear to 224, ImageNet)
    rng = np.random.default_rng(3)
    feats = {}
    for side, size in (("real", (70, 90)), ("fake", (50, 50))):
        os.makedirs(f"{tmp}/{side}")
        xs = []
        for i in range(4):
            a = (rng.random(size) * 255).astype(np.uint8)
            Image.fromarray(a, mode="L").save(f"{tmp}/{side}/{i}.png")
            xs.append(torch.from_numpy(a.astype(np.float32) / 255)[None].repeat(3, 1, 1))
        x = torch.nn.functional.interpolate(torch.stack(xs), size=(224, 224), mode="bilinear", align_corners=False)
        x = (x - torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)) / torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
        with torch.no_grad():
            f = torch.nn.functional.adaptive_avg_pool2d(torch.relu(net.features(x)), 1).flatten(1)
        feats[side] = f.double().numpy()
    p = subprocess.run(["cxrgen", "metrics", "fid", "--real", f"{tmp}/real", "--fake", f"{tmp}/fake", "--model", weights,
                        "--model-type", "densenet", "--save-stats-real", f"{tmp}/stats.safetensors"],
                       capture_output=True, text=True)
    if p.returncode == 0:
        mu = load_safetensors(f"{tmp}/stats.safetensors")["mu"]
        ref = feats["real"].mean(0)
        e = np.linalg.norm(mu - ref) / np.linalg.norm(ref)
        check(f"metrics fid --model-type densenet: pooled features as torchvision's (mean, relative {e:.1e} <= 1e-5)",
              mu.shape == ref.shape and e <= 1e-5)
    else:
        check("metrics fid --model-type densenet", False, p.stderr)

    del state["module.classifier.weight"]
    save_safetensors(f"{tmp}/headless.safetensors", state)
    p = run(tmp, pipeline(root, f"{tmp}/headless.safetensors", f"{tmp}/x.csv"))
    check("weights without the classifier: an error naming the tensor",
          p.returncode != 0 and "classifier.weight" in p.stderr and "headless.safetensors" in p.stderr
          and not os.path.exists(f"{tmp}/x.csv"), p.stderr)
    save_safetensors(f"{tmp}/other.safetensors", {"encoder.weight": torch.zeros(2, 2)})
    p = run(tmp, pipeline(root, f"{tmp}/other.safetensors", f"{tmp}/x.csv"))
    check("weights of another network: an error that says so",
          p.returncode != 0 and "not a torchvision DenseNet" in p.stderr, p.stderr)
finish()
