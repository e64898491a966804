#!/usr/bin/python3
# tests/test-sd-pipelines.py: the Stable Diffusion pipelines users run.
# The phantom ones train a tiny UNet (a few steps) and sample from it;
# the MIMIC-CXR-JPG ones (which need the public weights and the dataset)
# validate.
import csv
import os
import subprocess
import tempfile

from taplib import check, finish

SRC = os.environ.get("CXRGEN_TEST_SRCDIR", ".")


def cxrgen(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True, cwd=SRC)


with tempfile.TemporaryDirectory() as tmp:
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
    for name in ("train-sd", "sample-sd"):
        r = cxrgen("validate", f"pipelines/{name}.pipeline", "--set", "MIMIC_CXR_JPG=/data/mimic-cxr-jpg",
                   "--set", "CXRGEN_WEIGHTS=/data/weights")
        check(f"{name}.pipeline (MIMIC-CXR-JPG, public weights) validates", r.returncode == 0, r.stdout + r.stderr)

finish()
