#!/usr/bin/python3
# tests/test-inception.py: the inception-v3 model (FID's feature
# extractor) against PyTorch: torchvision's Inception3 with random weights
# and batch-norm statistics, saved as a .pth and converted with
# tools/pth-to-safetensors.py, gives the features of pytorch-fid's variant
# (tests/reference/inception.py) and, with {"variant": "torchvision"},
# torchvision's own; `cxrgen metrics fid` on folders of images and the
# image-features stage embed images as pytorch-fid's input path does.
import json
import os
import subprocess
import sys
import tempfile

from taplib import check, finish, skip

SRCDIR = os.environ.get("CXRGEN_TEST_SRCDIR", ".")
sys.path.insert(0, os.path.join(SRCDIR, "tests", "reference"))

try:
    import numpy as np
    import torch
    import torchvision  # noqa: F401 - the reference is built on it
    from PIL import Image
except ImportError as e:
    skip(f"a peer is missing: {e}")

import inception  # noqa: E402
from common import load_safetensors, save_safetensors  # noqa: E402

torch.set_num_threads(2)


def rel(ours, ref):
    ref = np.asarray(ref, dtype=np.float64)
    return float(np.linalg.norm(np.asarray(ours, dtype=np.float64) - ref) / np.linalg.norm(ref))


def cxrgen(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True)


net = inception.make(seed=3).float().double()  # the values float32 weights hold

with tempfile.TemporaryDirectory() as tmp:
    # the public checkpoint's path: a .pth state dict, converted
    torch.save({k: (v.float() if v.is_floating_point() else v) for k, v in net.state_dict().items()}, f"{tmp}/pt.pth")
    p = subprocess.run([sys.executable, os.path.join(SRCDIR, "tools", "pth-to-safetensors.py"), f"{tmp}/pt.pth",
                        f"{tmp}/pt_inception.safetensors"], capture_output=True, text=True)
    check("tools/pth-to-safetensors.py converts the state dict", p.returncode == 0, p.stderr)
    weights = f"{tmp}/pt_inception.safetensors"

    g = torch.Generator().manual_seed(5)
    x = (torch.rand(2, 3, 299, 299, generator=g) * 2 - 1).float()
    save_safetensors(f"{tmp}/in.safetensors", {"pixel_values": x})
    p = cxrgen("model", "run", "inception-v3", "--weights", weights, "--inputs", f"{tmp}/in.safetensors",
               "-o", f"{tmp}/out.safetensors")
    check("cxrgen model run inception-v3 on the converted weights", p.returncode == 0, p.stderr)
    check("fc.* and num_batches_tracked of the checkpoint are known, not reported",
          "unknown tensor" not in p.stderr, p.stderr)
    if p.returncode == 0:
        ours = load_safetensors(f"{tmp}/out.safetensors")["pooler_output"]
        with torch.no_grad():
            ref = inception.fid_features(net, x.double()).numpy()
        e = rel(ours, ref)
        check(f"pool features as pytorch-fid's Inception-v3: relative error {e:.1e} <= 1e-4",
              ours.shape == (2, 2048) and e <= 1e-4)

    os.makedirs(f"{tmp}/tv")
    os.symlink(weights, f"{tmp}/tv/model.safetensors")
    with open(f"{tmp}/tv/config.json", "w") as fp:
        json.dump({"variant": "torchvision"}, fp)
    p = cxrgen("model", "run", "inception-v3", "--model-dir", f"{tmp}/tv", "--inputs", f"{tmp}/in.safetensors",
               "-o", f"{tmp}/tv.safetensors")
    if p.returncode == 0:
        ours = load_safetensors(f"{tmp}/tv.safetensors")["pooler_output"]
        with torch.no_grad():
            ref = inception.torchvision_features(net, x.double()).numpy()
        e = rel(ours, ref)
        check(f"variant=torchvision as torchvision's Inception3: relative error {e:.1e} <= 1e-4", e <= 1e-4)
    else:
        check("variant=torchvision runs", False, p.stderr)
    with open(f"{tmp}/tv/config.json", "w") as fp:
        json.dump({"variant": "keras"}, fp)
    p = cxrgen("model", "run", "inception-v3", "--model-dir", f"{tmp}/tv", "--inputs", f"{tmp}/in.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("an unknown variant: an error naming the key", p.returncode != 0 and "variant" in p.stderr, p.stderr)

    # folders of 8-bit gray images of two sizes -> pytorch-fid's input path
    rng = np.random.default_rng(7)
    sides = {"real": [(64, 80)] * 3 + [(72, 72)] * 2, "fake": [(90, 60)] * 4}
    pixels = {}
    for side, sizes in sides.items():
        os.makedirs(f"{tmp}/{side}")
        pixels[side] = []
        for i, (h, w) in enumerate(sizes):
            base = rng.random((h // 8 + 1, w // 8 + 1))
            img = np.kron(base, np.ones((8, 8)))[:h, :w] * 0.7 + rng.random((h, w)) * 0.3
            a = (img * 255).astype(np.uint8)
            Image.fromarray(a, mode="L").save(f"{tmp}/{side}/img{i:02d}.png")
            pixels[side].append(a)
    p = cxrgen("metrics", "fid", "--real", f"{tmp}/real", "--fake", f"{tmp}/fake", "--model", weights, "--batch", "2",
               "--save-stats-real", f"{tmp}/real-stats.safetensors", "--json")
    check("cxrgen metrics fid on two folders of images with --model", p.returncode == 0, p.stderr)
    feats = {}
    with torch.no_grad():
        for side, images in pixels.items():
            feats[side] = np.concatenate([
                inception.fid_features(net, inception.prepare(torch.from_numpy(a.astype(np.float64) / 255)[None, None])).numpy()
                for a in images])
    if p.returncode == 0:
        stats = load_safetensors(f"{tmp}/real-stats.safetensors")
        mu, sigma = feats["real"].mean(0), np.cov(feats["real"], rowvar=False)
        e_mu, e_sigma = rel(stats["mu"], mu), rel(stats["sigma"], sigma)
        check(f"the real folder's statistics as pytorch-fid's (resize to 299, [-1, 1]): mean {e_mu:.1e}, "
              f"covariance {e_sigma:.1e} <= 1e-4", e_mu <= 1e-4 and e_sigma <= 1e-4)
        np.save(f"{tmp}/real.npy", feats["real"])
        np.save(f"{tmp}/fake.npy", feats["fake"])
        q = cxrgen("metrics", "fid", "--real", f"{tmp}/real.npy", "--fake", f"{tmp}/fake.npy", "--json")
        ours, ref = json.loads(p.stdout)["fid"], json.loads(q.stdout)["fid"] if q.returncode == 0 else float("nan")
        check(f"the FID of the folders ({ours:.6g}) is that of PyTorch's features ({ref:.6g}) within 1e-4",
              abs(ours - ref) <= 1e-4 * abs(ref), q.stderr)

    p = cxrgen("metrics", "fid", "--real", f"{tmp}/real", "--fake", f"{tmp}/fake")
    check("a folder without --model: an error that says what to add",
          p.returncode != 0 and "--model" in p.stderr and f"{tmp}/real" in p.stderr, p.stderr)
    with open(f"{tmp}/fake/broken.png", "wb") as fp:
        fp.write(b"\x89PNG\r\n\x1a\n" + b"\0" * 20)
    p = cxrgen("metrics", "fid", "--real", f"{tmp}/real", "--fake", f"{tmp}/fake", "--model", weights)
    check("a broken image in a folder: an error naming it", p.returncode != 0 and "broken.png" in p.stderr, p.stderr)

    # the stages: phantom images -> image-features -> eval-fid of a set
    # against itself (0), and against another split
    p = cxrgen("phantom", "--count", "6", "--out", f"{tmp}/phantom", "--seed", "2", "--size", "80")
    check("a 6-study phantom", p.returncode == 0, p.stderr)
    with open(f"{tmp}/fid.pipeline", "w") as fp:
        fp.write(f"""
[model inception]
type=inception-v3
weights={weights}

[stage src]
type=mimic-cxr-source
root={tmp}/phantom
split=any
image-size=80
batch-size=4

[stage feats]
type=image-features
input=src
model=inception

[stage fid]
type=eval-fid
input.real=feats
input.fake=feats
output={tmp}/fid.json

[stage out]
type=csv-sink
input=fid
path={tmp}/features.csv
columns=id,features
""")
    p = cxrgen("run", f"{tmp}/fid.pipeline", "--progress", "none")
    check("mimic-cxr-source -> image-features -> eval-fid runs", p.returncode == 0, p.stderr)
    if p.returncode == 0:
        result = json.load(open(f"{tmp}/fid.json"))
        header = open(f"{tmp}/features.csv").readline().strip().split(",")
        check(f"the features are 2048 wide ({len(header) - 1} columns)", len(header) - 1 == 2048)
        check(f"FID of a set against itself is 0 ({result['fid']:.2g}, rounding)", abs(result["fid"]) < 1e-4 and
              result["real"] >= 6, json.dumps(result))
finish()
