#!/usr/bin/python3
# tests/test-language.py: the language module's stages. report-generate
# against tests/reference/generate.py (a tiny random BART in float64, the
# whole prefix recomputed at every token): greedy, beam search and
# no-repeat n-grams give the reference's tokens and log-probability; the
# cached decoder gives what the uncached one gives; sampling follows its
# seeds. Then on phantoms: lm-train raises the token accuracy on held-out
# reports, prior-train raises the cosine on held-out images, and reports
# generated from held-out images agree with their labels better than
# chance.
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile

from taplib import check, finish, skip

try:
    import numpy as np
    import torch
except ImportError as e:
    skip(f"a peer is missing: {e}")

SRC = os.environ.get("CXRGEN_TEST_SRCDIR", ".")
sys.path.insert(0, os.path.join(SRC, "tests", "reference"))
import bart  # noqa: E402
import generate  # noqa: E402
from common import random_params, save_safetensors  # noqa: E402

TINY = os.path.join(SRC, "pipelines", "tiny")
LM_STEPS = int(os.environ.get("LM_STEPS", "600"))
PRIOR_STEPS = int(os.environ.get("PRIOR_STEPS", "600"))
OBS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema", "Enlarged Cardiomediastinum", "Fracture",
       "Lung Lesion", "Lung Opacity", "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
       "Pneumothorax", "Support Devices"]


def cxrgen(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True)


def run(tmp, name, text):
    with open(f"{tmp}/{name}.pipeline", "w") as fp:
        fp.write(text)
    return cxrgen("run", f"{tmp}/{name}.pipeline", "--progress", "none")


def rows(path):
    return list(csv.DictReader(open(path, newline="")))


def same_text(a, b):
    """Equal, counting a run of replacement characters as one (bytes that
    are no UTF-8 may be replaced byte by byte or run by run)."""
    def squash(s):
        while "\ufffd\ufffd" in s:
            s = s.replace("\ufffd\ufffd", "\ufffd")
        return s
    return squash(a) == squash(b)


with tempfile.TemporaryDirectory() as tmp:
    cfg = json.load(open(f"{TINY}/bart/config.json"))
    vocab = json.load(open(f"{TINY}/bart/vocab.json"))
    merges = [tuple(line.split()) for line in open(f"{TINY}/bart/merges.txt", encoding="utf-8").read().splitlines()[1:]]
    ranks = {m: i for i, m in enumerate(merges)}
    model = f"{tmp}/random-bart"
    os.makedirs(model)
    for f in ("config.json", "vocab.json", "merges.txt"):
        shutil.copy(f"{TINY}/bart/{f}", model)
    params = random_params(bart.shapes(cfg), 7)
    save_safetensors(f"{model}/model.safetensors", params)
    p64 = {k: v.double() for k, v in params.items()}

    texts = ["FINDINGS: No atelectasis. Borderline cardiomegaly.\n\nIMPRESSION: Borderline cardiomegaly.",
             "There is no pneumothorax.", "The heart size is normal. No focal consolidation.",
             "FINDINGS: Patchy opacities in the left lung.", "No acute process."]
    with open(f"{tmp}/reports.csv", "w", newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["id", "report", "seed"])
        for i, t in enumerate(texts):
            w.writerow([f"r{i}", t, "11" if i < 2 else str(20 + i)])
    # rows 0 and 1 share a seed: sampled reports differ by their reports only
    with open(f"{tmp}/same.csv", "w", newline="") as fp:
        w = csv.writer(fp)
        w.writerow(["id", "report", "seed"])
        for i, s in enumerate(["11", "11", "12"]):
            w.writerow([f"s{i}", texts[2], s])

    def generate_csv(name, extra, source="reports.csv", columns="report", length=16):
        r = run(tmp, name, f"""
[model bart]
type=bart-autoencoder
weights={model}

[stage data]
type=csv-source
path={tmp}/{source}
columns={columns}
label-columns=
batch-size=3

[stage gen]
type=report-generate
input=data
model=bart
from=report
output-field=out
max-length={length}
{extra}

[stage sink]
type=csv-sink
input=gen
path={tmp}/{name}.csv
columns=id,out,out-logprob
""")
        return r, (rows(f"{tmp}/{name}.csv") if r.returncode == 0 else [])

    ids, mask = generate.encode(texts, vocab, ranks)
    emb = generate.embedding(cfg, p64, ids, mask)

    def compare(name, got, want):
        bad = [(g["out"], generate.decode(w[0], vocab), float(g["out-logprob"]), w[1])
               for g, w in zip(got, want)
               if not same_text(g["out"], generate.decode(w[0], vocab)) or
               abs(float(g["out-logprob"]) - w[1]) > 1e-4 * max(1.0, abs(w[1]))]
        check(name, len(got) == len(want) and not bad, bad[:2])

    r, greedy = generate_csv("greedy", "strategy=greedy")
    check("report-generate runs greedy decoding", r.returncode == 0, r.stderr[-1500:])
    compare("greedy decoding gives the reference's reports and log-probabilities", greedy,
            [generate.greedy(cfg, p64, emb[i], 16) for i in range(len(texts))])
    r, got = generate_csv("norepeat", "strategy=greedy\nno-repeat-ngram-size=2")
    compare("no-repeat-ngram-size=2 gives the reference's reports", got,
            [generate.greedy(cfg, p64, emb[i], 16, no_repeat=2) for i in range(len(texts))])
    r, beam3 = generate_csv("beam", "strategy=beam\nnum-beams=3")
    compare("beam search (3 beams) gives the reference's best hypotheses", beam3,
            [generate.beam(cfg, p64, emb[i], 3, 16) for i in range(len(texts))])
    r, got = generate_csv("beam-penalty", "strategy=beam\nnum-beams=4\nlength-penalty=2.0\nno-repeat-ngram-size=3")
    compare("beam search with a length penalty and no-repeat n-grams gives the reference's", got,
            [generate.beam(cfg, p64, emb[i], 4, 16, 2.0, 3) for i in range(len(texts))])
    r, one = generate_csv("beam-one", "strategy=beam\nnum-beams=1")
    check("one beam is greedy decoding", [g["out"] for g in one] == [g["out"] for g in greedy], r.stderr[-500:])

    for strategy in ("greedy", "beam", "sample"):
        _, cached = generate_csv(f"{strategy}-cached", f"strategy={strategy}")
        r, uncached = generate_csv(f"{strategy}-uncached", f"strategy={strategy}\nuse-cache=false")
        diff = max((abs(float(a["out-logprob"]) - float(b["out-logprob"])) for a, b in zip(cached, uncached)),
                   default=float("nan"))
        check(f"{strategy}: the cached decoder writes what the uncached one writes (log-probabilities within "
              f"{diff:.1e})", len(cached) == len(texts) and [a["out"] for a in cached] == [b["out"] for b in uncached]
              and diff <= 1e-4, r.stderr[-500:])

    _, a = generate_csv("sample-a", "strategy=sample", "same.csv", "report,seed")
    _, b = generate_csv("sample-b", "strategy=sample", "same.csv", "report,seed")
    check("sampling: the same seed gives the same report, another seed another",
          len(a) == 3 and a == b and a[0]["out"] == a[1]["out"] and a[0]["out"] != a[2]["out"],
          [x["out"] for x in a])
    _, a = generate_csv("sample-noseed", "strategy=sample\nseed=100")
    _, b = generate_csv("sample-noseed2", "strategy=sample\nseed=200")
    check("sampling without a seed field follows the stage's seed", len(a) == 5 and a != b)
    _, got = generate_csv("topk1", "strategy=sample\ntop-k=1")
    check("sampling from the top 1 is greedy decoding", [g["out"] for g in got] == [g["out"] for g in greedy])
    _, got = generate_csv("topp", "strategy=sample\ntop-p=0.000001")
    check("sampling from the smallest top-p set is greedy decoding",
          [g["out"] for g in got] == [g["out"] for g in greedy])
    _, got = generate_csv("cold", "strategy=sample\ntemperature=0.0001")
    check("sampling at a temperature near zero is greedy decoding",
          [g["out"] for g in got] == [g["out"] for g in greedy])

    r, got = generate_csv("long", "strategy=beam\nnum-beams=2", length=100000)
    check("a max-length beyond the model's positions stops there (256 tokens), without an error",
          r.returncode == 0 and len(got) == len(texts), r.stderr[-500:])

    # errors
    r, _ = generate_csv("bad-strategy", "strategy=nucleus")
    check("an unknown strategy is an error that names it", r.returncode != 0 and "nucleus" in r.stderr, r.stderr)
    r = run(tmp, "no-prior", f"""
[model bart]
type=bart-autoencoder
weights={model}

[stage data]
type=phantom-source
count=2
image-size=32

[stage gen]
type=report-generate
input=data
model=bart
""")
    check("generating from images without a prior is an error that says what to set",
          r.returncode != 0 and "prior=" in r.stderr, r.stderr)
    r = run(tmp, "plain-bart", f"""
[model bart]
type=bart
weights={model}

[stage data]
type=csv-source
path={tmp}/reports.csv
columns=report
label-columns=

[stage gen]
type=report-generate
input=data
model=bart
from=report
""")
    check("from=report with a plain bart is an error", r.returncode != 0 and "bart-autoencoder" in r.stderr,
          r.stderr)

    # ------------------------------------------------------- on phantoms
    r = cxrgen("phantom", "--out", f"{tmp}/phantom", "--count", "800", "--size", "32")
    check("the phantom dataset is made", r.returncode == 0, r.stderr)

    def source(split, epochs=1, shuffle="false"):
        return f"""
[stage data]
type=mimic-cxr-source
root={tmp}/phantom
split={split}
image-size=32
batch-size=8
epochs={epochs}
shuffle={shuffle}
seed=1
"""

    def train(name, models_block, split, stage, metric, extra, epochs=1):
        """Runs a training stage (or one with evaluate=true) on a phantom
        split; rows of (loss, metric, step), one per sample with a loss."""
        r = run(tmp, name, f"""
{models_block}
{source(split, epochs, "true" if epochs > 1 else "false")}
[stage train]
input=data
{stage}
{extra}

[stage curve]
type=csv-sink
input=train
path={tmp}/{name}.csv
columns=id,step,loss,{metric}
""")
        got = [(float(x["loss"]), float(x[metric]), float(x["step"])) for x in rows(f"{tmp}/{name}.csv")
               if x["loss"]] if r.returncode == 0 else []
        return r, np.array(got).reshape(-1, 3)

    def lm(name, weights, split, extra, epochs=1):
        return train(name, f"[model bart]\ntype=bart-autoencoder\n{weights}", split,
                     f"type=lm-train\nmodel=bart\ntokenizer={TINY}/bart", "accuracy", extra, epochs)

    random_bart = f"config={TINY}/bart/config.json\nrandom-weights=true\nseed=4"
    r0, before = lm("lm-before", random_bart, "test", "evaluate=true")
    r1, curve = lm("lm-train", random_bart, "train", f"lr=3e-3\nweight-decay=0\nlr-schedule=cosine\nwarmup-steps=20\n"
                   f"max-steps={LM_STEPS}\noutput={tmp}/bart/model.safetensors", epochs=20)
    check(f"lm-train trains BART on phantom reports ({LM_STEPS} steps)", r1.returncode == 0 and len(curve) and
          curve[:, 2].max() == LM_STEPS, r1.stderr[-1500:])
    check("its output folder loads as facebook/bart-base's does (weights, config.json, vocab.json, merges.txt)",
          all(os.path.exists(f"{tmp}/bart/{f}") for f in ("model.safetensors", "config.json", "vocab.json",
                                                           "merges.txt")))
    r2, after = lm("lm-after", f"weights={tmp}/bart", "test", "evaluate=true")
    acc0 = before[:, 1].mean() if len(before) else float("nan")
    acc1 = after[:, 1].mean() if len(after) else float("nan")
    check(f"held-out reports are rebuilt better: token accuracy {acc0:.3f} -> {acc1:.3f}, loss "
          f"{before[:, 0].mean() if len(before) else float('nan'):.3f} -> "
          f"{after[:, 0].mean() if len(after) else float('nan'):.3f}",
          r0.returncode == 0 and r2.returncode == 0 and acc1 > acc0 + 0.3, r0.stderr[-500:] + r2.stderr[-500:])
    r3, padded = lm("lm-padded", f"weights={tmp}/bart", "test", "evaluate=true\nscore-padding=true")
    check("score-padding=true scores the padding too (another loss on the same batches)",
          r3.returncode == 0 and len(padded) == len(after) and not np.allclose(padded[:, 0], after[:, 0]),
          r3.stderr[-500:])

    def models(prior_weights):
        """The frozen VAE (phantom-train-sd's), the trained BART, the prior."""
        return f"""
[model vae]
type=sd-vae
config={TINY}/vae/config.json
random-weights=true
seed=3

[model bart]
type=bart-autoencoder
weights={tmp}/bart

[model prior]
type=vit-prior
{prior_weights}
"""

    def prior(name, weights, split, extra, epochs=1):
        return train(name, models(weights), split, "type=prior-train\nprior=prior\nvae=vae\ntext-model=bart",
                     "cosine", extra, epochs)

    random_prior = f"config={TINY}/prior/config.json\nrandom-weights=true\nseed=5"
    r0, before = prior("prior-before", random_prior, "test", "evaluate=true")
    r1, curve = prior("prior-train", random_prior, "train", f"lr=1e-3\nlr-schedule=cosine\nwarmup-steps=20\n"
                      f"max-steps={PRIOR_STEPS}\noutput={tmp}/prior/model.safetensors", epochs=30)
    check(f"prior-train trains the prior on phantom latents and report embeddings ({PRIOR_STEPS} steps)",
          r1.returncode == 0 and len(curve) and curve[:, 2].max() == PRIOR_STEPS, r1.stderr[-1500:])
    r2, after = prior("prior-after", f"weights={tmp}/prior", "test", "evaluate=true")
    cos0 = before[:, 1].mean() if len(before) else float("nan")
    cos1 = after[:, 1].mean() if len(after) else float("nan")
    check(f"the prior's cosine similarity on held-out images rises: {cos0:.3f} -> {cos1:.3f}",
          r0.returncode == 0 and r2.returncode == 0 and cos1 > cos0 + 0.1, r0.stderr[-500:] + r2.stderr[-500:])

    # starting from weights of another shape (as from ViT-base): what does not fit is reported
    cfg_prior = json.load(open(f"{TINY}/prior/config.json"))
    os.makedirs(f"{tmp}/other-prior")
    with open(f"{tmp}/other-prior/config.json", "w") as fp:
        json.dump(dict(cfg_prior, patch_size=4), fp)
    r, _ = prior("prior-partial", f"config={tmp}/other-prior/config.json\nweights={tmp}/prior/model.safetensors\n"
                 "partial-load=true", "test", "evaluate=true")
    check("prior-train from weights of another patch size loads what fits and reports what starts random",
          r.returncode == 0 and "embeddings.patch_embeddings.projection.weight" in r.stderr and
          "initialised" in r.stderr and "tensors loaded" in r.stderr and "embeddings.cls_token" not in r.stderr,
          r.stderr[-1500:])

    # reports from held-out images, labelled, against the images' labels
    def reports_from_images(strategy):
        r = run(tmp, f"pairs-{strategy}", f"""
{models(f"weights={tmp}/prior")}
{source("test")}
[stage gen]
type=report-generate
input=data
model=bart
prior=prior
vae=vae
strategy={strategy}
output-field=generated
max-length=200
seed=3

[stage label]
type=report-label
input=gen
report-field=generated

[stage out]
type=csv-sink
input=label
path={tmp}/pairs-{strategy}.csv
columns=id,labels,report-labels,generated
""")
        return r, rows(f"{tmp}/pairs-{strategy}.csv") if r.returncode == 0 else []

    def f1(truth, pred):
        tp, fp, fn = (truth & pred).sum(), (~truth & pred).sum(), (truth & ~pred).sum()
        return 2 * tp / max(2 * tp + fp + fn, 1)

    for strategy in ("sample", "greedy"):
        r, got = reports_from_images(strategy)
        truth = np.array([[x[o] == "1" for o in OBS] for x in got], dtype=bool).reshape(-1, len(OBS))
        pred = np.array([[x["report-labels." + o] == "1" for o in OBS] for x in got], dtype=bool).reshape(-1, len(OBS))
        rng = np.random.default_rng(0)
        chance = np.mean([f1(truth[rng.permutation(len(got))], pred) for _ in range(200)]) if got else float("nan")
        score = f1(truth, pred) if got else float("nan")
        check(f"{strategy}: reports generated from {len(got)} held-out images agree with their labels better than "
              f"chance (F1 of positive findings {score:.3f}; the same reports against shuffled labels {chance:.3f})",
              r.returncode == 0 and len(got) > 40 and score > chance + 0.03, r.stderr[-1500:])

finish(always=True)
