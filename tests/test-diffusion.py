#!/usr/bin/python3
# tests/test-diffusion.py: diffusion-sample end to end, label vectors to
# images, with a tiny random Stable Diffusion (tests/reference/sd.py's
# make_tiny_sd: CLIP text encoder and tokenizer, UNet, VAE): the images
# against a PyTorch loop of the same networks (DDIM with guidance, noise
# from each sample's seed), determinism, one sample regenerated alone from
# its seed, every sampler, and the errors.
import csv
import os
import subprocess
import sys
import tempfile

from taplib import check, finish, need_cxr, skip

try:
    import numpy as np
    import torch
except ImportError as e:
    skip(f"a peer is missing: {e}")
Cxr, GLib = need_cxr()

sys.path.insert(0, os.path.join(os.environ.get("CXRGEN_TEST_SRCDIR", "."), "tests", "reference"))
import sd  # noqa: E402
from common import csv_floats  # noqa: E402

OBS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
       "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia", "Pneumothorax",
       "Support Devices"]
D = sd.UNET["cross_attention_dim"]


def cxrgen(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True)


def pipeline(tmp, out, sampler="ddim", steps=4, guidance=3.0, labels="labels.csv", extra="", columns=None):
    columns = columns or "id,seed,image,context,unconditional-context"
    return f"""
[model text]
type=clip-text
weights={tmp}/sd/text_encoder

[model unet]
type=sd-unet
weights={tmp}/sd/unet

[model vae]
type=sd-vae
weights={tmp}/sd/vae

[stage labels]
type=csv-source
path={tmp}/{labels}
columns={'seed' if 'seed' in labels else ''}
batch-size=3

[stage prompt]
type=label-prompt
input=labels

[stage context]
type=clip-text-encode
input=prompt
model=text
pad-to=77

[stage images]
type=diffusion-sample
input=context
denoiser=unet
vae=vae
scheduler={sampler}
steps={steps}
guidance={guidance}
latent-size=8
seed=40
{extra}

[stage out]
type=csv-sink
input=images
path={out}
columns={columns}
"""


def run(tmp, name, **kw):
    with open(f"{tmp}/{name}.pipeline", "w") as fp:
        fp.write(pipeline(tmp, f"{tmp}/{name}.csv", **kw))
    r = cxrgen("run", f"{tmp}/{name}.pipeline", "--progress", "none")
    rows = list(csv.DictReader(open(f"{tmp}/{name}.csv"))) if r.returncode == 0 else []
    return r, rows


with tempfile.TemporaryDirectory() as tmp:
    corpus = ["A chest X ray image with " + ", ".join(o.lower() for o in OBS) + ", without and with uncertain"] * 3
    parts = sd.make_tiny_sd(f"{tmp}/sd", corpus)
    rng = np.random.default_rng(2)
    with open(f"{tmp}/labels.csv", "w") as fp:
        fp.write("id," + ",".join(OBS) + "\n")
        for i in range(7):
            fp.write(f"s{i}," + ",".join(str(v) for v in rng.choice(["1.0", "0.0", "-1.0", ""], size=14)) + "\n")

    r, rows = run(tmp, "ddim")
    check("label vectors -> prompts -> contexts -> images runs", r.returncode == 0 and len(rows) == 7, r.stderr[-2000:])
    if not rows:
        finish()
    check("each sample's seed is the base seed plus its index", [row["seed"] for row in rows] ==
          [str(40 + i) for i in range(7)], str([row["seed"] for row in rows]))

    # the same in PyTorch: DDIM (eta 0) with guidance 3 on the same networks
    unet_cfg, unet_p = parts["unet"]
    vae_cfg, vae_p = parts["vae"]
    unet_p = {k: v.double() for k, v in unet_p.items()}
    vae_p = {k: v.double() for k, v in vae_p.items()}
    unet = sd.unet_forward(unet_cfg)
    betas = np.linspace(0.00085 ** 0.5, 0.012 ** 0.5, 1000) ** 2
    acp = np.cumprod(1 - betas)
    worst = 0.0
    for row in rows[:3]:
        ctx = torch.tensor(csv_floats(row, "context")).reshape(1, -1, D)
        unc = torch.tensor(csv_floats(row, "unconditional-context")).reshape(1, -1, D)
        noise = Cxr.Tensor.new_randn([1, 4, 8, 8], int(row["seed"]), 0)
        x = torch.tensor(np.frombuffer(noise.to_bytes().get_data(), dtype=np.float32).reshape(1, 4, 8, 8)).double()
        with torch.no_grad():
            for t in range(751, 0, -250):
                out = unet(unet_p, {"sample": torch.cat([x, x]), "timestep": torch.tensor([t, t]),
                                    "encoder_hidden_states": torch.cat([unc, ctx])})["sample"]
                eps = out[:1] + 3.0 * (out[1:] - out[:1])
                a, ap = acp[t], (acp[t - 250] if t - 250 >= 0 else acp[0])
                x0 = (x - np.sqrt(1 - a) * eps) / np.sqrt(a)
                x = np.sqrt(ap) * x0 + np.sqrt(1 - ap) * eps
            img = sd.vae_decode(vae_cfg, vae_p, x / 0.18215)
        gray = ((img.mean(1)[0] + 1) / 2).clamp(0, 1).numpy().reshape(-1)
        worst = max(worst, np.abs(csv_floats(row, "image") - gray).max())
    check(f"images match PyTorch's DDIM with guidance on the same networks (max error {worst:.1e})", worst < 1e-4)

    r2, rows2 = run(tmp, "ddim-again")
    check("the same run twice gives the same images", r2.returncode == 0 and
          all(np.array_equal(csv_floats(a, "image"), csv_floats(b, "image")) for a, b in zip(rows, rows2)), r2.stderr[-1000:])

    # one sample alone, from its seed (in a batch of its own)
    with open(f"{tmp}/labels.csv") as fp:
        lines = fp.read().splitlines()
    with open(f"{tmp}/one-seed.csv", "w") as fp:
        fp.write(lines[0] + ",seed\n" + lines[5] + ",44\n")
    r3, one = run(tmp, "alone", labels="one-seed.csv")
    diff = np.abs(csv_floats(one[0], "image") - csv_floats(rows[4], "image")).max() if one else 1.0
    # (contexts padded to 77 tokens, as SD's pipeline pads, so that no
    # sample's context depends on its batch; the difference left is float
    # rounding: the matrix products of a batch of 1 sum in another order)
    check(f"a sample regenerated alone from its seed is the same image (max difference {diff:.1e})",
          r3.returncode == 0 and one and one[0]["id"] == "s4" and diff < 1e-5, r3.stderr[-1000:])

    for sampler, steps in (("pndm", 5), ("euler", 4), ("ddpm", 3)):
        r4, rows4 = run(tmp, sampler, sampler=sampler, steps=steps)
        images = np.stack([csv_floats(row, "image") for row in rows4]) if rows4 else np.zeros(0)
        check(f"{sampler} samples ({steps} steps) give images in [0, 1]", r4.returncode == 0 and len(rows4) == 7 and
              images.min() >= 0 and images.max() <= 1 and images.std() > 0, r4.stderr[-1000:])
    r5, rows5 = run(tmp, "unguided", guidance=1.0, columns="id,seed,image")
    check("guidance 1 runs without the unconditional context", r5.returncode == 0 and len(rows5) == 7, r5.stderr[-1000:])

    # images to files
    with open(f"{tmp}/png.pipeline", "w") as fp:
        fp.write(pipeline(tmp, f"{tmp}/png.csv", steps=2, columns="id,seed,image-path").replace(
            "[stage out]", f"[stage files]\ntype=image-sink\ninput=images\nfolder={tmp}/png\n\n[stage out]").replace(
            "input=images\npath=", "input=files\npath="))
    r6 = cxrgen("run", f"{tmp}/png.pipeline", "--progress", "none")
    pngs = sorted(os.listdir(f"{tmp}/png")) if os.path.isdir(f"{tmp}/png") else []
    check("image-sink writes the generated images", r6.returncode == 0 and len(pngs) == 7, r6.stderr[-1000:])

    # errors
    r7, _ = run(tmp, "no-uncond", extra="unconditional-field=missing", columns="id,image")
    check("guidance without the unconditional context is an error that names the field", r7.returncode != 0 and
          "missing" in r7.stderr, r7.stderr[-1000:])
    r8, _ = run(tmp, "bad-sampler", sampler="heun")
    check("an unknown scheduler is an error", r8.returncode != 0 and "heun" in r8.stderr, r8.stderr[-1000:])
    with open(f"{tmp}/bad-seed.csv", "w") as fp:
        fp.write(lines[0] + ",seed\n" + lines[1] + ",forty\n")
    r9, _ = run(tmp, "bad-seed", labels="bad-seed.csv")
    check("a seed that is not a number is an error that shows it", r9.returncode != 0 and "forty" in r9.stderr,
          r9.stderr[-1000:])

finish()
