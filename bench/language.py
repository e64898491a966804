#!/usr/bin/python3
# bench/language.py: the language module against the same networks in
# PyTorch (tests/reference/bart.py's BART, float32, no_grad; the decoder's
# keys and values cached the way transformers caches them) in the same
# run, on the same threads, with the same weights (facebook/bart-base's
# shapes, random, the </s> logit pushed down so every report runs to its
# full length on both sides). Run it with bench/run-language
# [BENCH_TOKENS=64] [BENCH_BATCHES=1,16] [BENCH_TRAIN=1]. Prints:
#   decoding tokens/s (report-generate's own count of the decoding time,
#     model loading and encoding left out), greedy and beam 4, batch 1 and
#     16, with the cache (and cxrgen without it: the cache's speed-up);
#     ratio = cxrgen time / torch time for the same tokens (below 1:
#     cxrgen is faster);
#   a BART-base training step, batch 8 x 256 tokens (forward, backward,
#     AdamW), ms, ratio cxrgen/torch (below 1: cxrgen is faster).
import json
import os
import re
import subprocess
import sys
import tempfile
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import bart  # noqa: E402
from common import random_params, save_safetensors  # noqa: E402

THREADS = int(os.environ.get("CXRGEN_THREADS", "2"))
LENGTH = int(os.environ.get("BENCH_TOKENS", "64"))
BATCHES = [int(b) for b in os.environ.get("BENCH_BATCHES", "1,16").split(",")]
TRAIN = os.environ.get("BENCH_TRAIN", "1") == "1"
torch.set_num_threads(THREADS)

BASE = dict(bart.BART, d_model=768, encoder_layers=6, decoder_layers=6, encoder_attention_heads=12,
            decoder_attention_heads=12, encoder_ffn_dim=3072, decoder_ffn_dim=3072, max_position_embeddings=1024,
            vocab_size=50265)


def torch_decoder(cfg, p):
    """One decoder step with a cache (as transformers: keys and values
    concatenated per step; beams reordered with index_select)."""
    heads, d = cfg["decoder_attention_heads"], cfg["d_model"]

    def split(t):
        return t.reshape(t.shape[0], -1, heads, d // heads).transpose(1, 2)

    def attend(q, k, v):
        a = torch.softmax(split(q) * (d // heads) ** -0.5 @ split(k).transpose(-1, -2), -1) @ split(v)
        return a.transpose(1, 2).reshape(q.shape[0], -1, d)

    def start(emb):
        cache = []
        for i in range(cfg["decoder_layers"]):
            base = f"model.decoder.layers.{i}.encoder_attn"
            cache.append([None, None, bart.lin(p, f"{base}.k_proj", emb), bart.lin(p, f"{base}.v_proj", emb)])
        return cache

    def step(cache, ids, t):
        h = bart.ln(p, "model.decoder.layernorm_embedding",
                    p["model.shared.weight"][ids][:, None] + p["model.decoder.embed_positions.weight"][t + 2])
        for i, c in enumerate(cache):
            base = f"model.decoder.layers.{i}"
            k, v = bart.lin(p, f"{base}.self_attn.k_proj", h), bart.lin(p, f"{base}.self_attn.v_proj", h)
            c[0] = k if c[0] is None else torch.cat([c[0], k], 1)
            c[1] = v if c[1] is None else torch.cat([c[1], v], 1)
            a = bart.lin(p, f"{base}.self_attn.out_proj", attend(bart.lin(p, f"{base}.self_attn.q_proj", h), c[0], c[1]))
            h = bart.ln(p, f"{base}.self_attn_layer_norm", h + a)
            x = bart.lin(p, f"{base}.encoder_attn.out_proj", attend(bart.lin(p, f"{base}.encoder_attn.q_proj", h), c[2], c[3]))
            h = bart.ln(p, f"{base}.encoder_attn_layer_norm", h + x)
            f = bart.lin(p, f"{base}.fc2", torch.nn.functional.gelu(bart.lin(p, f"{base}.fc1", h)))
            h = bart.ln(p, f"{base}.final_layer_norm", h + f)
        return (h @ p["model.shared.weight"].T + p["final_logits_bias"])[:, 0]

    return start, step


def torch_generate(cfg, p, emb, beams):
    """Tokens/s of greedy (beams 1) or beam search over the batch of emb."""
    start, step = torch_decoder(cfg, p)
    n = emb.shape[0]
    with torch.no_grad():
        t0 = time.perf_counter()
        rows = emb.repeat_interleave(beams, 0)[:, None]
        cache = start(rows)
        ids = torch.full((n * beams,), cfg["decoder_start_token_id"])
        score = torch.zeros(n, beams)
        score[:, 1:] = -1e9
        for t in range(LENGTH):
            logp = torch.log_softmax(step(cache, ids, t), -1)
            if beams == 1:
                ids = logp.argmax(-1)
                continue
            total = (score.reshape(-1, 1) + logp).reshape(n, -1)
            score, best = total.topk(beams, -1)
            src = (best // logp.shape[-1] + torch.arange(n)[:, None] * beams).reshape(-1)
            ids = (best % logp.shape[-1]).reshape(-1)
            for c in cache:
                c[0], c[1] = c[0].index_select(0, src), c[1].index_select(0, src)
        return n * LENGTH / (time.perf_counter() - t0)


def cxrgen_generate(tmp, batch, strategy, cache, length):
    with open(f"{tmp}/reports.csv", "w") as fp:
        fp.write("id,report\n" + "".join(f"r{i},FINDINGS: report number {i}.\n" for i in range(batch)))
    with open(f"{tmp}/gen.pipeline", "w") as fp:
        fp.write(f"""
[model bart]
type=bart-autoencoder
weights={tmp}/bart

[stage data]
type=csv-source
path={tmp}/reports.csv
columns=report
label-columns=
batch-size={batch}

[stage gen]
type=report-generate
input=data
model=bart
from=report
strategy={strategy}
num-beams=4
max-length={length}
use-cache={'true' if cache else 'false'}

[stage out]
type=csv-sink
input=gen
path={tmp}/out.csv
columns=id,report
""")
    r = subprocess.run(["cxrgen", "run", f"{tmp}/gen.pipeline", "--progress", "none"], capture_output=True, text=True,
                       env=dict(os.environ, G_MESSAGES_DEBUG="Cxr-bart"), check=True)
    m = re.search(r"(\d+) tokens in ([0-9.]+) s of decoding", r.stdout + r.stderr)
    return int(m.group(1)) / float(m.group(2))


def main():
    params = random_params(bart.shapes(BASE), 1)
    params["final_logits_bias"][0, BASE["eos_token_id"]] = -100.0
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(f"{tmp}/bart")
        save_safetensors(f"{tmp}/bart/model.safetensors", params)
        json.dump(dict(BASE, vocab_size=BASE["vocab_size"]), open(f"{tmp}/bart/config.json", "w"))
        tokdir = os.path.join(HERE, "..", "pipelines", "tiny", "bart")
        for f in ("vocab.json", "merges.txt"):
            with open(f"{tokdir}/{f}", "rb") as src, open(f"{tmp}/bart/{f}", "wb") as dst:
                dst.write(src.read())
        print(f"BART-base decoding, {LENGTH} tokens a report, {THREADS} threads: tokens/s")
        print(f"{'case':<22}{'cxrgen':>10}{'torch':>10}{'ratio':>8}{'no cache':>10}{'speed-up':>10}")
        emb = torch.randn(16, BASE["d_model"])
        for strategy, beams in (("greedy", 1), ("beam", 4)):
            for batch in BATCHES:
                ours = cxrgen_generate(tmp, batch, strategy, True, LENGTH)
                nocache = cxrgen_generate(tmp, batch, strategy, False, LENGTH) \
                    if batch == 1 else float("nan")
                theirs = torch_generate(BASE, params, emb[:batch], beams)
                print(f"{strategy + ', batch ' + str(batch):<22}{ours:>10.1f}{theirs:>10.1f}{theirs / ours:>8.2f}"
                      f"{nocache:>10.1f}{ours / nocache:>10.2f}")
        if not TRAIN:
            return
        # a training step: forward, backward, AdamW
        p = {k: v.clone().requires_grad_(True) for k, v in params.items()}
        opt = torch.optim.AdamW(p.values(), lr=5e-5)
        fwd = bart.forward(BASE)
        ids = torch.randint(0, BASE["vocab_size"], (8, 256))
        times = []
        for i in range(4):
            t0 = time.perf_counter()
            out = fwd(p, {"input_ids": ids})
            loss = sum((o * o).mean() for o in out.values())
            opt.zero_grad()
            loss.backward()
            opt.step()
            times.append(time.perf_counter() - t0)
        theirs = sorted(times[1:])[1] * 1e3
        r = subprocess.run(["cxrgen", "model", "bench", "bart", "--model-dir", f"{tmp}/bart", "--batch", "8",
                            "--train", "--repeat", "3", "--threads", str(THREADS), "--json"],
                           capture_output=True, text=True, check=True)
        ours = json.loads(r.stdout)["median_ms"]
        print(f"BART-base training step, batch 8 x 256: cxrgen {ours:.0f} ms, torch {theirs:.0f} ms, "
              f"ratio {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
