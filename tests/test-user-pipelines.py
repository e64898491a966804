#!/usr/bin/python3
# tests/test-user-pipelines.py: the pipelines users run. The phantom ones
# train a tiny UNet, BART and prior (a few steps each), sample images from
# the UNet and generate image-report pairs with all three; the
# MIMIC-CXR-JPG ones (which need the public weights and the dataset)
# validate.
import json
import csv
import os
import subprocess
import tempfile

from taplib import check, finish

SRC = os.environ.get("CXRGEN_TEST_SRCDIR", ".")


def cxrgen(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True, cwd=SRC)


with tempfile.TemporaryDirectory() as tmp:
    # The README's main job, as it gives it (but for OUT): the bundled
    # weights of pipelines/weights/
    r = cxrgen("run", "pipelines/phantom-generate-pairs.pipeline", "--set", f"OUT={tmp}/main", "--progress", "none")
    pairs = [json.loads(line) for line in open(f"{tmp}/main/pairs/pairs.jsonl")] if r.returncode == 0 else []
    sums = {}
    for line in open(os.path.join(SRC, "pipelines/weights/SHA256SUMS")):
        digest, name = line.split()
        sums[os.path.basename(name) if name.startswith("unet/") else "pipelines/weights/" + name] = "sha256:" + digest
    check("the main job (phantom-generate-pairs.pipeline with the bundled weights) writes 8 pairs",
          r.returncode == 0 and len(pairs) == 8, r.stderr[-1500:])
    check("... its manifest names the bundled networks by the hashes of pipelines/weights/SHA256SUMS",
          pairs and all(all(sums.get(k) == v for k, v in p["weights"].items()) and len(p["weights"]) == 3
                        for p in pairs), str(pairs[:1]) + str(sums))
    check("... the bundled BART is trained: every report has the phantoms' FINDINGS and IMPRESSION sections",
          pairs and all("FINDINGS:" in p["report"] and "IMPRESSION:" in p["report"] for p in pairs),
          str([p["report"] for p in pairs[:2]]))
    r = cxrgen("run", "pipelines/phantom-train-sd.pipeline", "--set", f"OUT={tmp}", "--set", "STEPS=15",
               "--set", "COUNT=160", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/train-sd/loss.csv"))) if r.returncode == 0 else []
    steps = {row["step"] for row in rows if row["loss"]}
    check("phantom-train-sd.pipeline trains (15 steps)", r.returncode == 0 and len(steps) == 15, r.stderr[-1500:])
    check("... and leaves a UNet folder (weights and config.json) and a checkpoint",
          all(os.path.exists(f"{tmp}/train-sd/{f}") for f in ("unet/diffusion_pytorch_model.safetensors",
                                                              "unet/config.json", "checkpoint.safetensors")))
    r = cxrgen("run", "pipelines/phantom-sample-sd.pipeline", "--set", f"OUT={tmp}", "--set", f"UNET={tmp}/train-sd/unet",
               "--set", "COUNT=3", "--set", "STEPS=4", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/sample-sd/samples.csv"))) if r.returncode == 0 else []
    check("phantom-sample-sd.pipeline samples images from it", r.returncode == 0 and len(rows) == 3 and
          all(os.path.exists(row["image-path"]) for row in rows) and [row["seed"] for row in rows] ==
          ["1234", "1235", "1236"], r.stderr[-1500:])
    # the other backbone, swapped in by a variable
    r = cxrgen("run", "pipelines/phantom-train-sd.pipeline", "--set", f"OUT={tmp}/uvit", "--set", "STEPS=15",
               "--set", "COUNT=160", "--set", "BACKBONE=uvit", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/uvit/train-sd/loss.csv"))) if r.returncode == 0 else []
    config = json.load(open(f"{tmp}/uvit/train-sd/unet/config.json")) if r.returncode == 0 else {}
    check("phantom-train-sd.pipeline with BACKBONE=uvit trains a U-ViT (15 steps) and leaves its folder",
          r.returncode == 0 and len({row["step"] for row in rows if row["loss"]}) == 15 and
          config.get("_class_name") == "UViT", r.stderr[-1500:])
    r = cxrgen("run", "pipelines/phantom-sample-sd.pipeline", "--set", f"OUT={tmp}/uvit", "--set", "BACKBONE=uvit",
               "--set", f"UNET={tmp}/uvit/train-sd/unet", "--set", "COUNT=2", "--set", "STEPS=4", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/uvit/sample-sd/samples.csv"))) if r.returncode == 0 else []
    check("... and phantom-sample-sd.pipeline samples images from it", r.returncode == 0 and len(rows) == 2 and
          all(os.path.exists(row["image-path"]) for row in rows), r.stderr[-1500:])
    r = cxrgen("run", "pipelines/phantom-train-bart.pipeline", "--set", f"OUT={tmp}", "--set", "STEPS=20",
               "--set", "COUNT=160", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/train-bart/loss.csv"))) if r.returncode == 0 else []
    check("phantom-train-bart.pipeline trains (20 steps) and leaves a BART folder with its tokenizer",
          r.returncode == 0 and len({row["step"] for row in rows if row["loss"]}) == 20 and
          all(os.path.exists(f"{tmp}/train-bart/bart/{f}") for f in ("model.safetensors", "config.json",
                                                                     "vocab.json", "merges.txt")), r.stderr[-1500:])
    r = cxrgen("run", "pipelines/phantom-train-prior.pipeline", "--set", f"OUT={tmp}", "--set", "STEPS=20",
               "--set", "COUNT=160", "--set", f"BART={tmp}/train-bart/bart", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/train-prior/loss.csv"))) if r.returncode == 0 else []
    check("phantom-train-prior.pipeline trains (20 steps) and leaves a prior folder",
          r.returncode == 0 and len({row["step"] for row in rows if row["loss"]}) == 20 and
          os.path.exists(f"{tmp}/train-prior/prior/model.safetensors"), r.stderr[-1500:])
    r = cxrgen("run", "pipelines/phantom-train-classifier.pipeline", "--set", f"OUT={tmp}", "--set", "STEPS=20",
               "--set", "COUNT=320", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/train-classifier/loss.csv"))) if r.returncode == 0 else []
    check("phantom-train-classifier.pipeline trains (20 steps) and leaves a classifier",
          r.returncode == 0 and len({row["step"] for row in rows if row["loss"]}) == 20 and
          os.path.exists(f"{tmp}/train-classifier/classifier/model.safetensors"), r.stderr[-1500:])
    r = cxrgen("run", "pipelines/phantom-evaluate-classifier.pipeline", "--set", f"OUT={tmp}", "--set", "COUNT=64",
               "--set", f"CLASSIFIER={tmp}/train-classifier/classifier", "--progress", "none")
    auroc = json.load(open(f"{tmp}/evaluate-classifier/auroc.json")) if r.returncode == 0 else {}
    check("phantom-evaluate-classifier.pipeline scores held-out phantoms and writes the AUROC",
          r.returncode == 0 and 0 <= auroc.get("macro", {}).get("auroc", -1) <= 1, r.stderr[-1500:])
    r = cxrgen("run", "pipelines/phantom-generate-pairs.pipeline", "--set", f"OUT={tmp}", "--set", "COUNT=3",
               "--set", "STEPS=4", "--set", f"UNET={tmp}/train-sd/unet", "--set", f"PRIOR={tmp}/train-prior/prior",
               "--set", f"BART={tmp}/train-bart/bart", "--progress", "none")
    pairs = [json.loads(line) for line in open(f"{tmp}/pairs/pairs.jsonl")] if r.returncode == 0 else []
    check("phantom-generate-pairs.pipeline writes image-report pairs: PNG, report text, manifest with the "
          "three networks' SHA-256", r.returncode == 0 and len(pairs) == 3 and
          all(os.path.exists(os.path.join(f"{tmp}/pairs", p["image"]) if not os.path.isabs(p["image"]) else p["image"])
              and p["report"] and os.path.exists(p["report-path"] if os.path.isabs(p["report-path"]) else
                                                  os.path.join(f"{tmp}/pairs", p["report-path"]))
              and len(p["weights"]) == 3 for p in pairs), r.stderr[-1500:] + str(pairs[:1]))
    for name in ("train-sd", "sample-sd", "train-bart", "train-prior", "generate-pairs", "train-classifier"):
        r = cxrgen("validate", f"pipelines/{name}.pipeline", "--set", "MIMIC_CXR_JPG=/data/mimic-cxr-jpg",
                   "--set", "CXRGEN_WEIGHTS=/data/weights")
        check(f"{name}.pipeline (MIMIC-CXR-JPG, public weights) validates", r.returncode == 0, r.stdout + r.stderr)

finish()
