#!/usr/bin/python3
# tests/test-clip.py: the paper's prompt context, end to end on the phantom
# dataset: mimic-cxr-source -> label-prompt -> clip-image-embed ->
# clip-text-encode, with tiny CLIP towers (random weights) laid out as
# stable-diffusion-v1-4 lays them out (text_encoder/ beside tokenizer/),
# checked against the plain-PyTorch towers of tests/reference/clip.py fed
# by the reference tokenizer and PIL's CLIP preprocessing.
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

from taplib import check, finish, need_cxr, skip

try:
    import numpy as np
    import torch
    from PIL import Image
except ImportError as e:
    skip(f"a peer is missing: {e}")
Cxr, GLib = need_cxr()

sys.path.insert(0, os.path.join(os.environ.get("CXRGEN_TEST_SRCDIR", "."), "tests", "reference"))
import clip  # noqa: E402
from clip_tokenizer import SPECIAL, encode, learn, write_files  # noqa: E402
from common import load_safetensors, csv_floats, random_params, save_safetensors  # noqa: E402

D = 32
TEXT = dict(clip.TEXT, max_position_embeddings=77, hidden_size=D)
VISION = dict(clip.VISION, hidden_size=D, image_size=32, patch_size=8)
CLIP_MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)[:, None, None]
CLIP_STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)[:, None, None]


def cxrgen(*args, env=None):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True, env=env)


def pipeline(root, sd, vision, out, extra="", columns="id,prompt,reference-path,reference-embedding,context,"
             "unconditional-context"):
    return f"""
[model text]
type=clip-text
weights={sd}/text_encoder

[model vision]
type=clip-vision
weights={vision}

[stage data]
type=mimic-cxr-source
root={root}
split=train
image-size=0
batch-size=64
limit=24

[stage prompt]
type=label-prompt
input=data

[stage reference]
type=clip-image-embed
input=prompt
model=vision

[stage context]
type=clip-text-encode
input=reference
model=text
{extra}

[stage out]
type=csv-sink
input=context
path={out}
columns={columns}
"""


def clip_pixels(path, size):
    """cxrgen's CLIP preprocessing (checked against PIL's in test-image-peers.py)."""
    t = Cxr.Image.load(path, 0).preprocess_clip(size)
    return np.frombuffer(t.to_bytes().get_data(), dtype=np.float32).reshape(t.get_shape())


with tempfile.TemporaryDirectory() as tmp:
    root = f"{tmp}/phantom"
    r = cxrgen("phantom", "--out", root, "--count", "40", "--size", "64")
    check("the phantom dataset is made", r.returncode == 0, r.stderr)

    # a tokenizer learnt from the prompts' words, SD's folder layout
    corpus = ["A chest X ray image with cardiomegaly and pleural effusion, without pneumothorax and edema, and with "
              "uncertain atelectasis, consolidation, enlarged cardiomediastinum, fracture, lung lesion, lung opacity, "
              "no finding, pleural other, pneumonia, support devices"] * 3
    vocab, merges = learn(corpus, 120)
    ranks = {pair: i for i, pair in enumerate(merges)}
    sd = f"{tmp}/sd"
    os.makedirs(f"{sd}/text_encoder")
    os.makedirs(f"{sd}/tokenizer")
    write_files(f"{sd}/tokenizer", vocab, merges)
    text_cfg = dict(TEXT, vocab_size=len(vocab), eos_token_id=vocab[SPECIAL[1]])
    text_params = random_params(clip.text_shapes(text_cfg, 0), 21)
    with open(f"{sd}/text_encoder/config.json", "w") as fp:
        json.dump(text_cfg, fp)
    save_safetensors(f"{sd}/text_encoder/model.safetensors", text_params)
    vision = f"{tmp}/vision"
    os.makedirs(vision)
    vision_params = random_params(clip.vision_shapes(VISION, 0), 22)
    with open(f"{vision}/config.json", "w") as fp:
        json.dump(VISION, fp)
    save_safetensors(f"{vision}/model.safetensors", vision_params)

    with open(f"{tmp}/run.pipeline", "w") as fp:
        fp.write(pipeline(root, sd, vision, f"{tmp}/context.csv"))
    env = dict(os.environ, G_MESSAGES_DEBUG="Cxr-clip")  # GLib prints debug messages on stdout
    r = cxrgen("run", f"{tmp}/run.pipeline", "--progress", "none")
    check("the pipeline runs (tokenizer found beside the text encoder)", r.returncode == 0, r.stderr[-2000:])
    rows = list(csv.DictReader(open(f"{tmp}/context.csv"))) if r.returncode == 0 else []
    check("one row per sample", len(rows) == 24, str(len(rows)))
    if not rows:
        finish()

    text_fn = clip.text_forward(text_cfg, 0)
    vision_fn = clip.vision_forward(VISION, 0)
    p_text = {k: v.double() for k, v in text_params.items()}
    p_vision = {k: v.double() for k, v in vision_params.items()}
    eos = vocab[SPECIAL[1]]
    ids = [encode(row["prompt"], vocab, ranks) for row in rows]
    longest = max(len(i) for i in ids)
    padded = torch.tensor([i + [eos] * (longest - len(i)) for i in ids])
    with torch.no_grad():
        hidden = text_fn(p_text, {"input_ids": padded})["last_hidden_state"].numpy()
        empty = text_fn(p_text, {"input_ids": torch.tensor([encode("", vocab, ranks) + [eos] * (longest - 2)])})
    empty = empty["last_hidden_state"][0].numpy()

    contexts = np.stack([csv_floats(row, "context") for row in rows]).reshape(len(rows), -1, D)
    check("the context is [L + 1, D]: the batch's longest prompt and one image token",
          contexts.shape == (len(rows), longest + 1, D), f"{contexts.shape}, longest {longest}")
    if contexts.shape == (len(rows), longest + 1, D):
        err = np.abs(contexts[:, :longest] - hidden).max() / np.abs(hidden).max()
        check(f"its first L tokens are CLIP's hidden states of the padded prompts (rel. error {err:.1e})", err < 1e-4)
        emb = np.stack([csv_floats(row, "reference-embedding") for row in rows])
        check("its last token is the reference image's embedding", np.array_equal(contexts[:, longest], emb.astype(np.float32))
              or np.abs(contexts[:, longest] - emb).max() < 1e-6)
        unc = np.stack([csv_floats(row, "unconditional-context") for row in rows]).reshape(len(rows), -1, D)
        err = np.abs(unc[:, :longest] - empty[None]).max() / np.abs(empty).max()
        check(f"the unconditional context is the empty prompt padded to L (rel. error {err:.1e}), then zeros",
              err < 1e-4 and np.abs(unc[:, longest]).max() == 0)

    # the reference embeddings against PyTorch on PIL's CLIP preprocessing
    with_ref = [row for row in rows if row["reference-path"]]
    without = [row for row in rows if not row["reference-path"]]
    worst = 0.0
    for row in with_ref:
        px = torch.tensor(clip_pixels(row["reference-path"], 32)[None]).double()
        with torch.no_grad():
            theirs = vision_fn(p_vision, {"pixel_values": px})["pooler_output"][0].numpy()
        worst = max(worst, np.abs(csv_floats(row, "reference-embedding") - theirs).max() / np.abs(theirs).max())
    check(f"reference embeddings are CLIP vision's pooled output of the preprocessed image ({len(with_ref)} "
          f"samples, rel. error {worst:.1e})", with_ref and worst < 1e-4)
    # as an image encoder (image-features, metrics fid --model-type clip-vision): the same embedding
    distinct = sorted({row["reference-path"] for row in with_ref})
    os.makedirs(f"{tmp}/refs")
    for i, path in enumerate(distinct):
        shutil.copy(path, f"{tmp}/refs/{i}.jpg")
    r = cxrgen("metrics", "fid", "--real", f"{tmp}/refs", "--fake", f"{tmp}/refs", "--model", vision,
               "--model-type", "clip-vision", "--save-stats-real", f"{tmp}/refs.safetensors")
    if r.returncode == 0 and len(distinct) >= 2:
        mu = load_safetensors(f"{tmp}/refs.safetensors")["mu"]
        with torch.no_grad():
            theirs = np.mean([vision_fn(p_vision, {"pixel_values": torch.tensor(clip_pixels(path, 32)[None]).double()})
                              ["pooler_output"][0].numpy() for path in distinct], axis=0)
        err = np.abs(mu - theirs).max() / np.abs(theirs).max()
        check(f"clip-vision embeds folders of images as clip-image-embed does ({len(distinct)} images, rel. error "
              f"{err:.1e})", err < 1e-4)
    else:
        check("metrics fid --model-type clip-vision", False, r.stderr + f" ({len(distinct)} images)")
    check("a sample without a reference gets zeros", all(not csv_floats(row, "reference-embedding").any() for row in without),
          f"{len(without)} without")
    # the cache: 12 samples over 3 distinct images (and 2 without), in batches of 4
    paths = [row["reference-path"] for row in with_ref[:3]]
    with open(f"{tmp}/refs.csv", "w") as fp:
        fp.write("id,prompt,path\n")
        for i in range(12):
            fp.write(f"s{i},a chest x ray image,{paths[i % 3] if i % 6 != 5 else ''}\n")
    with open(f"{tmp}/cache.pipeline", "w") as fp:
        fp.write(f"""
[model vision]
type=clip-vision
weights={vision}

[stage rows]
type=csv-source
path={tmp}/refs.csv
label-columns=
columns=prompt,reference-path=path
batch-size=4

[stage reference]
type=clip-image-embed
input=rows
model=vision

[stage out]
type=csv-sink
input=reference
path={tmp}/cache.csv
columns=id,reference-path,reference-embedding
""")
    r = cxrgen("run", f"{tmp}/cache.pipeline", "--progress", "none", env=env)
    cached = list(csv.DictReader(open(f"{tmp}/cache.csv"))) if r.returncode == 0 else []
    by_path = {}
    for row in cached:
        by_path.setdefault(row["reference-path"], set()).add(tuple(csv_floats(row, "reference-embedding")))
    check("each distinct reference image is embedded once (3 for 10 samples, over 3 batches), the same for each",
          r.returncode == 0 and "clip-image-embed: 3 images embedded, 7 samples served from the cache" in r.stdout and
          len(cached) == 12 and all(len(v) == 1 for v in by_path.values()) and not any(by_path[""].pop()),
          f"{r.returncode} {len(cached)} {[len(v) for v in by_path.values()]} {r.stdout[-1500:]} {r.stderr[-1500:]}")

    # pad-to, image-token=false, and errors
    with open(f"{tmp}/pad.pipeline", "w") as fp:
        fp.write(pipeline(root, sd, vision, f"{tmp}/pad.csv", "pad-to=77\nimage-token=false\nunconditional-field=",
                          columns="id,context"))
    r = cxrgen("run", f"{tmp}/pad.pipeline", "--progress", "none")
    ok = r.returncode == 0
    if ok:
        row = next(csv.DictReader(open(f"{tmp}/pad.csv")))
        ok = len(csv_floats(row, "context")) == 77 * D and "unconditional-context.0" not in row
    check("pad-to=77 without the image token gives [77, D], and no unconditional context when not asked", ok,
          r.stderr[-1500:])
    with open(f"{tmp}/notok.pipeline", "w") as fp:
        fp.write(pipeline(root, sd, vision, f"{tmp}/x.csv", f"tokenizer={tmp}/nowhere"))
    r = cxrgen("run", f"{tmp}/notok.pipeline", "--progress", "none")
    check("a missing tokenizer is an error that names the file", r.returncode != 0 and "nowhere" in r.stderr and
          not os.path.exists(f"{tmp}/x.csv"), r.stderr[-1500:])
    wide = f"{tmp}/wide"
    os.makedirs(wide)
    wide_cfg = dict(VISION, hidden_size=48)
    with open(f"{wide}/config.json", "w") as fp:
        json.dump(wide_cfg, fp)
    save_safetensors(f"{wide}/model.safetensors", random_params(clip.vision_shapes(wide_cfg, 0), 3))
    with open(f"{tmp}/wide.pipeline", "w") as fp:
        fp.write(pipeline(root, sd, wide, f"{tmp}/x.csv"))
    r = cxrgen("run", f"{tmp}/wide.pipeline", "--progress", "none")
    check("an image embedding of another width than the text's is an error that names the field",
          r.returncode != 0 and "reference-embedding" in r.stderr and not os.path.exists(f"{tmp}/x.csv"),
          r.stderr[-1500:])

finish()
