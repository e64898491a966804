#!/usr/bin/python3
# tests/test-diffusion-train.py: diffusion-train on the phantom dataset with
# a tiny random Stable Diffusion (tests/reference/sd.py's make_tiny_sd):
# the validation loss (the validate split, fixed noise, measured by the
# same stage with evaluate=true) drops; a run resumed from its checkpoint continues the
# uninterrupted run's loss curve bit for bit; the trained weights load as a
# model and sample; the errors.
import csv
import json
import os
import subprocess
import sys
import tempfile

from taplib import check, finish, skip

try:
    import numpy as np
    import torch  # noqa: F401 (the reference networks)
except ImportError as e:
    skip(f"a peer is missing: {e}")

sys.path.insert(0, os.path.join(os.environ.get("CXRGEN_TEST_SRCDIR", "."), "tests", "reference"))
import sd  # noqa: E402
import uvit  # noqa: E402
from common import random_params, save_safetensors  # noqa: E402


def cxrgen(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True)


VALIDATE_STAGES = """
[stage vdata]
type=mimic-cxr-source
root={tmp}/phantom
split=validate
image-size=16
batch-size=4
epochs=3
shuffle=true
seed=9

[stage vprompt]
type=label-prompt
input=vdata

[stage vcontext]
type=clip-text-encode
input=vprompt
model=text
pad-to=40
"""


def pipeline(tmp, out, unet, split="train", steps=0, lr="1e-3", extra="", epochs=10, validate=False,
             denoiser="sd-unet", pad_to=40):
    return (VALIDATE_STAGES.format(tmp=tmp) if validate else "") + f"""
[model text]
type=clip-text
weights={tmp}/sd/text_encoder

[model unet]
type={denoiser}
weights={unet}

[model vae]
type=sd-vae
weights={tmp}/sd/vae

[stage data]
type=mimic-cxr-source
root={tmp}/phantom
split={split}
image-size=16
batch-size=4
epochs={epochs}
shuffle=true
seed=9

[stage prompt]
type=label-prompt
input=data

[stage context]
type=clip-text-encode
input=prompt
model=text
pad-to={pad_to}

[stage train]
type=diffusion-train
input=context
denoiser=unet
vae=vae
lr={lr}
max-steps={steps}
seed=5
{extra}

[stage out]
type=csv-sink
input=train
path={out}
columns=id,step,loss
"""


def run(tmp, name, *args, events=None, **kw):
    with open(f"{tmp}/{name}.pipeline", "w") as fp:
        fp.write(pipeline(tmp, f"{tmp}/{name}.csv", *args, **kw))
    r = cxrgen("run", f"{tmp}/{name}.pipeline", "--progress", "none", *(["--events", events] if events else []))
    losses = []
    if r.returncode == 0:
        seen = set()
        for row in csv.DictReader(open(f"{tmp}/{name}.csv")):
            key = (row["step"], row["loss"])
            if row["loss"] and key not in seen:  # one value per batch, repeated per sample
                seen.add(key)
                losses.append(float(row["loss"]))
    return r, losses


def validation_loss(tmp, name, unet, denoiser="sd-unet"):
    r, losses = run(tmp, name, unet, split="validate", epochs=3, denoiser=denoiser,
                    pad_to=77 if denoiser == "uvit" else 40,
                    extra=f"evaluate=true\noutput={tmp}/{name}/never.safetensors")
    if os.path.exists(f"{tmp}/{name}"):
        check("evaluate=true writes nothing", False, f"{tmp}/{name} was made")
    return r, float(np.mean(losses)) if losses else float("nan")


with tempfile.TemporaryDirectory() as tmp:
    r = cxrgen("phantom", "--out", f"{tmp}/phantom", "--count", "60", "--size", "32")
    check("the phantom dataset is made", r.returncode == 0, r.stderr)
    sd.make_tiny_sd(f"{tmp}/sd", ["A chest X ray image with cardiomegaly, without edema, and with uncertain effusion"])

    r0, before = validation_loss(tmp, "val-before", f"{tmp}/sd/unet")
    r, losses = run(tmp, "train", f"{tmp}/sd/unet", steps=120, validate=True,
                    extra=f"output={tmp}/trained/diffusion_pytorch_model.safetensors\ncheckpoint={tmp}/full.ckpt\n"
                          f"input.validate=vcontext\nvalidate-every=40\nvalidation-log={tmp}/validation.csv")
    check("diffusion-train runs 120 steps on the phantom", r.returncode == 0 and len(losses) == 120,
          r.stderr[-2000:] + f" {len(losses)} losses")
    if r.returncode != 0:
        finish()
    os.system(f"cp {tmp}/sd/unet/config.json {tmp}/trained/")
    r1, after = validation_loss(tmp, "val-after", f"{tmp}/trained")
    check(f"the validation loss drops: {before:.4f} -> {after:.4f} (training: {np.mean(losses[:10]):.4f} -> "
          f"{np.mean(losses[-10:]):.4f})", r0.returncode == 0 and r1.returncode == 0 and after < 0.9 * before,
          r0.stderr[-500:] + r1.stderr[-500:])

    # U-ViT in the UNet's place: the pipeline names the denoiser (8x8x4
    # latents in patches of 2); its positions want contexts of one length,
    # CLIP's 77 tokens (pad-to=77) and the reference image's
    cfg = dict(uvit.UVIT, img_size=8, embed_dim=32, clip_dim=12, num_clip_token=78)
    os.makedirs(f"{tmp}/uvit")
    with open(f"{tmp}/uvit/config.json", "w") as fp:
        json.dump(cfg, fp)
    save_safetensors(f"{tmp}/uvit/diffusion_pytorch_model.safetensors", random_params(uvit.shapes(cfg), 7))
    r0, before = validation_loss(tmp, "uvit-before", f"{tmp}/uvit", denoiser="uvit")
    r, uvit_losses = run(tmp, "uvit-train", f"{tmp}/uvit", steps=120, denoiser="uvit", pad_to=77,
                         extra=f"output={tmp}/uvit-trained/diffusion_pytorch_model.safetensors")
    os.system(f"cp {tmp}/uvit/config.json {tmp}/uvit-trained/")
    r1, after = validation_loss(tmp, "uvit-after", f"{tmp}/uvit-trained", denoiser="uvit")
    check(f"diffusion-train trains a U-ViT (denoiser=uvit) 120 steps; the validation loss drops: {before:.4f} -> "
          f"{after:.4f}", r.returncode == 0 and len(uvit_losses) == 120 and r0.returncode == 0 and
          r1.returncode == 0 and after < 0.9 * before, r.stderr[-1000:] + r0.stderr[-500:] + r1.stderr[-500:])
    r, _ = run(tmp, "uvit-short", f"{tmp}/uvit", steps=2, denoiser="uvit", pad_to=40)
    check("a context of another length is an error that says what U-ViT's positions are for",
          r.returncode != 0 and "78 context tokens (img_size, num_clip_token)" in r.stderr,
          r.stderr[-500:])

    log = list(csv.DictReader(open(f"{tmp}/validation.csv"))) if os.path.exists(f"{tmp}/validation.csv") else []
    steps = [int(row["step"]) for row in log]
    check(f"validation inside the run (input.validate, validate-every=40) at steps {steps}: "
          f"{float(log[0]['loss']) if log else 0:.4f} -> {float(log[-1]['loss']) if log else 0:.4f}",
          # the validate stream comes whole before the first training batch
          steps == [0, 40, 80, 120]
          and float(log[-1]["loss"]) < 0.9 * float(log[0]["loss"]), str(log))

    # resume: 60 steps, then 60 more from the checkpoint, against 120 straight
    ckpt = f"{tmp}/resume.ckpt"
    ra, first = run(tmp, "first", f"{tmp}/sd/unet", steps=60, extra=f"checkpoint={ckpt}")
    rb, second = run(tmp, "second", f"{tmp}/sd/unet", steps=120, extra=f"checkpoint={ckpt}\nresume=true")
    check("a run resumed at step 60 continues the loss curve bit for bit",
          ra.returncode == 0 and rb.returncode == 0 and first == losses[:60] and second == losses[60:],
          ra.stderr[-500:] + rb.stderr[-500:] + f" {first[-2:]} {losses[58:60]} {second[:2]} {losses[60:62]}")

    # the trained weights sample
    with open(f"{tmp}/sample.pipeline", "w") as fp:
        fp.write(f"""
[model text]
type=clip-text
weights={tmp}/sd/text_encoder

[model unet]
type=sd-unet
weights={tmp}/trained

[model vae]
type=sd-vae
weights={tmp}/sd/vae

[stage data]
type=mimic-cxr-source
root={tmp}/phantom
split=test
image-size=0
limit=4

[stage prompt]
type=label-prompt
input=data

[stage context]
type=clip-text-encode
input=prompt
model=text

[stage images]
type=diffusion-sample
input=context
denoiser=unet
vae=vae
steps=3
latent-size=8

[stage files]
type=image-sink
input=images
folder={tmp}/generated
""")
    r = cxrgen("run", f"{tmp}/sample.pipeline", "--progress", "none")
    check("the trained weights load and sample images", r.returncode == 0 and
          len(os.listdir(f"{tmp}/generated")) == 4, r.stderr[-1000:])

    # errors
    r, _ = run(tmp, "dropout", f"{tmp}/sd/unet", steps=2, extra="conditioning-dropout=0.1\nunconditional-field=")
    check("conditioning dropout without the unconditional context is an error", r.returncode != 0 and
          "unconditional" in r.stderr, r.stderr[-500:])
    with open(f"{tmp}/not-a-ckpt", "w") as fp:
        fp.write("nonsense")
    r, _ = run(tmp, "bad-ckpt", f"{tmp}/sd/unet", steps=2, extra=f"checkpoint={tmp}/not-a-ckpt\nresume=true")
    check("resuming from a file that is no checkpoint is an error that names it", r.returncode != 0 and
          "not-a-ckpt" in r.stderr, r.stderr[-500:])
    r, _ = run(tmp, "cosine-unbounded", f"{tmp}/sd/unet", steps=0, extra="lr-schedule=cosine")
    check("a cosine schedule without max-steps is an error", r.returncode != 0 and "max-steps" in r.stderr,
          r.stderr[-500:])
    r, cosine = run(tmp, "cosine", f"{tmp}/sd/unet", steps=6, extra="lr-schedule=cosine\nwarmup-steps=2",
                    events=f"{tmp}/events.jsonl")
    check("a cosine schedule with warm-up trains to max-steps", r.returncode == 0 and len(cosine) == 6 and
          cosine[0] == losses[0], r.stderr[-500:])
    progress = [e for e in map(json.loads, open(f"{tmp}/events.jsonl")) if e.get("event") == "progress"] \
        if r.returncode == 0 else []
    train = progress[-1]["stages"].get("train", {}) if progress else {}
    check(f"the progress events show the trainer's step, loss and images/s ({train})",
          train.get("status", "").startswith("step 6, loss ") and train.get("rate", 0) > 0, progress[-1:])
    # at max-steps the trainer takes no more: the source stops reading (6
    # batches of 4, plus what the three queues of 4 batches and the stages
    # hold) instead of going through its 10 epochs
    finished = {e["stage"]: e for e in map(json.loads, open(f"{tmp}/events.jsonl"))
                if e.get("event") == "stage-finish"} if r.returncode == 0 else {}
    read = finished.get("data", {}).get("samples-out", -1)
    check(f"the source stops soon after max-steps: {read} samples read for 6 steps of 4",
          0 < read <= 4 * (6 + 3 * 4 + 4) and all(e.get("status") == "ok" for e in finished.values()),
          str(finished))

finish()
