#!/usr/bin/python3
# tests/test-models.py: every network against its plain-PyTorch reference
# through the `cxrgen model` harness. tests/reference/MODEL.py writes a
# fixture folder (a tiny configuration, random weights, inputs, targets and
# the expected outputs and gradients, in float64); `cxrgen model run`
# computes the same in float32 and `cxrgen model compare` checks it within
# rtol 1e-4. Adding a model adds one fixture script and one line to
# FIXTURES. Then what loading and running must refuse, by name.
import json
import os
import struct
import subprocess
import sys
import tempfile

from taplib import check, finish, skip

try:
    import torch
except ImportError as e:
    skip(f"a peer is missing: {e}")

HERE = os.path.dirname(os.path.abspath(__file__))
REFERENCE = os.path.join(os.environ.get("CXRGEN_TEST_SRCDIR", os.path.dirname(HERE)), "tests", "reference")
sys.path.insert(0, REFERENCE)
from common import save_safetensors  # noqa: E402

# (model type, fixture script, its argument, scaled tolerance): each element
# within rtol 1e-4 of the reference, or within 1e-6 plus the scaled
# tolerance times the largest magnitude of its tensor (`compare --stol`:
# elements near zero after deep stacks of float32 ops are judged against
# their tensor's scale)
FIXTURES = [
    ("clip-text", "clip.py", "text", "1e-5"),
    ("clip-vision", "clip.py", "vision", "1e-5"),
    ("clip-vision", "clip.py", "whole", "1e-5"),
    ("sd-unet", "sd.py", "unet", "1e-5"),
    ("sd-unet --set gradient-checkpointing=true", "sd.py", "unet", "1e-5"),
    ("sd-vae", "sd.py", "vae", "1e-5"),
    ("sd-vae", "sd.py", "vae-old", "1e-5"),
    ("bart", "bart.py", "tied", "1e-5"),
    ("bart", "bart.py", "aliases", "1e-5"),
    ("bart", "bart.py", "decoder", "1e-5"),
    ("bart-autoencoder", "bart.py", "autoencoder", "1e-5"),
    ("bart-autoencoder --set pooling=eos", "bart.py", "autoencoder-eos", "1e-5"),
    ("vit-prior", "vit.py", "prior", "1e-5"),
    ("uvit", "uvit.py", "uvit", "1e-5"),
    ("uvit", "uvit.py", "uvit-mlp", "1e-5"),
    ("uvit", "uvit.py", "uvit-recompute", "1e-5"),
]


def cxrgen(*args):
    return subprocess.run(["cxrgen", *args], capture_output=True, text=True)


def make_fixture(tmp, script, kind):
    folder = os.path.join(tmp, f"{script[:-3]}-{kind}")
    os.makedirs(folder, exist_ok=True)
    r = subprocess.run(["/usr/bin/python3", os.path.join(REFERENCE, script), kind, folder], capture_output=True,
                       text=True)
    if r.returncode != 0:
        raise RuntimeError(r.stderr)
    return folder


def run_fixture(model_type, folder, out, extra=()):
    args = ["model", "run", *model_type.split(), "--inputs", f"{folder}/inputs.safetensors", "-o", out, *extra]
    if not any(a in ("--weights", "--config") for a in extra):
        args += ["--model-dir", folder]
    if os.path.exists(f"{folder}/target.safetensors"):
        args += ["--target", f"{folder}/target.safetensors"]
    return cxrgen(*args)


def read_header(path):
    with open(path, "rb") as fp:
        n = struct.unpack("<Q", fp.read(8))[0]
        return json.loads(fp.read(n))


def load(path):
    """safetensors -> {name: float64 tensor} (F32/I64 only, as the fixtures are written)."""
    header = read_header(path)
    with open(path, "rb") as fp:
        n = struct.unpack("<Q", fp.read(8))[0]
        data = fp.read()[n:]
    out = {}
    for name, e in header.items():
        if name == "__metadata__":
            continue
        a, b = e["data_offsets"]
        dtype = {"F32": torch.float32, "I64": torch.int64, "F64": torch.float64}[e["dtype"]]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=dtype).reshape(e["shape"])
    return out


with tempfile.TemporaryDirectory() as tmp:
    folders = {}
    for model_type, script, kind, atol in FIXTURES:
        name = f"{model_type} ({script} {kind})"
        try:
            folder = folders[(script, kind)] = make_fixture(tmp, script, kind)
        except RuntimeError as e:
            check(f"{name}: the reference writes its fixture", False, str(e))
            continue
        out = os.path.join(folder, "out.safetensors")
        r = run_fixture(model_type, folder, out)
        check(f"{name}: cxrgen model run", r.returncode == 0, r.stderr)
        if r.returncode != 0:
            continue
        c = cxrgen("model", "compare", out, f"{folder}/expected.safetensors", "--rtol", "1e-4", "--atol", "1e-6",
                   "--stol", atol)
        n_grads = sum(1 for k in read_header(f"{folder}/expected.safetensors") if k.startswith("grad."))
        check(f"{name}: outputs{' and %d gradients' % n_grads if n_grads else ''} match PyTorch (rtol 1e-4)",
              c.returncode == 0, c.stdout[-3000:])

    text = folders.get(("clip.py", "text"))
    vision = folders.get(("clip.py", "vision"))
    whole = folders.get(("clip.py", "whole"))
    if text is None or vision is None or whole is None:
        finish()

    # The whole-CLIP file: the text tower takes its text_config and skips
    # the vision tensors, without calling them unknown.
    r = cxrgen("model", "run", "clip-text", "--model-dir", whole, "--inputs", f"{text}/inputs.safetensors",
               "-o", f"{tmp}/whole-text.safetensors")
    check("clip-text loads a whole CLIP checkpoint, skipping the other tower quietly",
          r.returncode == 0 and "unknown tensor" not in r.stderr, r.stderr)
    if r.returncode == 0:
        names = set(read_header(f"{tmp}/whole-text.safetensors"))
        check("... with text_embeds from text_projection", "text_embeds" in names, str(names))

    # f16 and bf16 weights load, converted exactly: the same outputs, bit
    # for bit, as float32 weights holding the same rounded values
    params = load(f"{vision}/model.safetensors")
    for dtype in (torch.float16, torch.bfloat16):
        outs = []
        for stored in (dtype, torch.float32):
            d = os.path.join(tmp, f"half-{str(dtype)[6:]}-{str(stored)[6:]}")
            os.makedirs(d)
            save_safetensors(f"{d}/model.safetensors", {k: v.to(dtype) for k, v in params.items()}, dtype=stored)
            with open(f"{vision}/config.json") as fp, open(f"{d}/config.json", "w") as out:
                out.write(fp.read())
            r = cxrgen("model", "run", "clip-vision", "--model-dir", d, "--inputs", f"{vision}/inputs.safetensors",
                       "-o", f"{d}/out.safetensors")
            outs.append((r, f"{d}/out.safetensors"))
        c = cxrgen("model", "compare", outs[0][1], outs[1][1], "--rtol", "0", "--atol", "0")
        check(f"{str(dtype)[6:]} weights load as their exact float32 values",
              all(r.returncode == 0 for r, _ in outs) and c.returncode == 0,
              "".join(r.stderr for r, _ in outs) + c.stdout[-2000:])

    # Loading is strict and explains itself.
    def variant(name, config=None, drop=None, reshape=None, extra=None):
        d = os.path.join(tmp, name)
        os.makedirs(d)
        with open(f"{vision}/config.json") as fp:
            cfg = json.load(fp)
        cfg.update(config or {})
        for key in [k for k, v in cfg.items() if v is None]:
            del cfg[key]
        with open(f"{d}/config.json", "w") as fp:
            json.dump(cfg, fp)
        p = dict(params)
        if drop:
            del p[drop]
        if reshape:
            p[reshape[0]] = torch.zeros(reshape[1])
        p.update(extra or {})
        save_safetensors(f"{d}/model.safetensors", p)
        return cxrgen("model", "run", "clip-vision", "--model-dir", d, "--inputs", f"{vision}/inputs.safetensors",
                      "-o", f"{d}/out.safetensors")

    r = variant("missing", drop="vision_model.encoder.layers.1.mlp.fc2.bias")
    check("a missing tensor is an error that names it", r.returncode == 1 and
          "vision_model.encoder.layers.1.mlp.fc2.bias" in r.stderr and "missing" in r.stderr, r.stderr)
    r = variant("misshapen", reshape=("vision_model.embeddings.patch_embedding.weight", (32, 3, 4, 4)))
    check("a misshapen tensor is an error that says both shapes", r.returncode == 1 and
          "expected [32, 3, 8, 8], got [32, 3, 4, 4]" in r.stderr, r.stderr)
    r = variant("unknown-tensor", extra={"vision_model.extra.weight": torch.zeros(3)})
    check("an unknown tensor is a warning that names it", r.returncode == 0 and
          "warning" in r.stderr and "vision_model.extra.weight" in r.stderr, r.stderr)
    r = variant("unknown-key", config={"num_hiden_layers": 2})
    check("an unknown configuration key is an error that names it", r.returncode == 1 and
          '"num_hiden_layers"' in r.stderr and "config.json" in r.stderr, r.stderr)
    r = variant("missing-key", config={"patch_size": None})
    check("a missing configuration key is an error that names it", r.returncode == 1 and
          '"patch_size"' in r.stderr and "missing" in r.stderr, r.stderr)
    r = variant("out-of-range", config={"hidden_size": 2 ** 40})
    check("a size beyond 32 bits is an error that names the key", r.returncode == 1 and '"hidden_size"' in r.stderr and
          "out of range" in r.stderr, r.stderr)
    r = variant("huge", config={"hidden_size": 200000, "num_attention_heads": 1})
    check("a configuration too large for the machine is an error, not an abort", r.returncode == 1 and
          "GiB" in r.stderr and "config.json" in r.stderr, r.stderr)
    r = variant("bad-key", config={"hidden_size": "wide"})
    check("a configuration value of the wrong type is an error that names it", r.returncode == 1 and
          '"hidden_size"' in r.stderr and "integer" in r.stderr, r.stderr)
    r = cxrgen("model", "run", "clip-text", "--model-dir", vision, "--inputs", f"{text}/inputs.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("a configuration of another model is an error", r.returncode == 1 and "config.json" in r.stderr, r.stderr)

    # Inputs are checked by name and shape.
    save_safetensors(f"{tmp}/wrong-name.safetensors", {"pixels": torch.zeros(1, 3, 32, 32)})
    r = cxrgen("model", "run", "clip-vision", "--model-dir", vision, "--inputs", f"{tmp}/wrong-name.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("a missing input is named, with what the model takes", r.returncode == 1 and
          '"pixel_values"' in r.stderr and "takes" in r.stderr, r.stderr)
    save_safetensors(f"{tmp}/extra.safetensors", {"pixel_values": torch.zeros(1, 3, 32, 32), "mask": torch.zeros(1)})
    r = cxrgen("model", "run", "clip-vision", "--model-dir", vision, "--inputs", f"{tmp}/extra.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("an unknown input is named", r.returncode == 1 and '"mask"' in r.stderr, r.stderr)
    save_safetensors(f"{tmp}/small.safetensors", {"pixel_values": torch.zeros(1, 3, 16, 16)})
    r = cxrgen("model", "run", "clip-vision", "--model-dir", vision, "--inputs", f"{tmp}/small.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("an input of the wrong shape is an error that says the shape expected", r.returncode == 1 and
          "[N, 3, 32, 32]" in r.stderr and not os.path.exists(f"{tmp}/x.safetensors"), r.stderr)
    save_safetensors(f"{tmp}/float-ids.safetensors", {"input_ids": torch.zeros(1, 4)})
    r = cxrgen("model", "run", "clip-text", "--model-dir", text, "--inputs", f"{tmp}/float-ids.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("an input of the wrong type is an error", r.returncode == 1 and "input_ids" in r.stderr and
          "integers" in r.stderr, r.stderr)
    save_safetensors(f"{tmp}/big-ids.safetensors", {"input_ids": torch.tensor([[0, 1, 999]])})
    r = cxrgen("model", "run", "clip-text", "--model-dir", text, "--inputs", f"{tmp}/big-ids.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("an id outside the vocabulary is an error that names its place", r.returncode == 1 and
          "input_ids[0][2] = 999" in r.stderr, r.stderr)
    save_safetensors(f"{tmp}/bad-target.safetensors", {"pooler_output": torch.zeros(5, 5)})
    r = cxrgen("model", "run", "clip-vision", "--model-dir", vision, "--inputs", f"{vision}/inputs.safetensors",
               "-o", f"{tmp}/x.safetensors", "--target", f"{tmp}/bad-target.safetensors")
    check("a target that does not fit its output is an error", r.returncode == 1 and "pooler_output" in r.stderr,
          r.stderr)
    r = cxrgen("model", "run", "no-such-model", "--model-dir", vision, "--inputs", f"{vision}/inputs.safetensors",
               "-o", f"{tmp}/x.safetensors")
    check("an unknown model type exits 3", r.returncode == 3, r.stderr)

    # the UNet's configuration and inputs
    unet = folders.get(("sd.py", "unet"))
    if unet:
        with open(f"{unet}/config.json") as fp:
            cfg = json.load(fp)
        for key, value, words in (("down_block_types", ["SimpleCrossAttnDownBlock2D", "DownBlock2D"],
                                   "SimpleCrossAttnDownBlock2D"),
                                  ("norm_num_groups", 5, "groups"),
                                  ("attention_head_dim", [2, 2, 2], "3 values")):
            d = os.path.join(tmp, f"unet-{key}")
            os.makedirs(d)
            with open(f"{d}/config.json", "w") as fp:
                json.dump(dict(cfg, **{key: value}), fp)
            r = cxrgen("model", "run", "sd-unet", "--config", f"{d}/config.json", "--weights",
                       f"{unet}/model.safetensors", "--inputs", f"{unet}/inputs.safetensors", "-o", f"{d}/o.safetensors")
            check(f"an unsupported UNet {key} is an error that names the key", r.returncode == 1 and
                  f'"{key}"' in r.stderr and words in r.stderr, r.stderr)
        save_safetensors(f"{tmp}/unet-ctx.safetensors", {"sample": torch.zeros(2, 4, 8, 8), "timestep": torch.tensor([1]),
                                                          "encoder_hidden_states": torch.zeros(2, 5, 7)})
        r = cxrgen("model", "run", "sd-unet", "--model-dir", unet, "--inputs", f"{tmp}/unet-ctx.safetensors",
                   "-o", f"{tmp}/x.safetensors")
        check("a context of the wrong width is an error that says the width expected", r.returncode == 1 and
              "encoder_hidden_states" in r.stderr and "[2, L, 12]" in r.stderr, r.stderr)
        save_safetensors(f"{tmp}/unet-odd.safetensors", {"sample": torch.zeros(1, 4, 7, 8), "timestep": torch.tensor([1]),
                                                          "encoder_hidden_states": torch.zeros(1, 5, 12)})
        r = cxrgen("model", "run", "sd-unet", "--model-dir", unet, "--inputs", f"{tmp}/unet-odd.safetensors",
                   "-o", f"{tmp}/x.safetensors")
        check("latents the UNet cannot halve are an error", r.returncode == 1 and "multiples of 2" in r.stderr,
              r.stderr)

    r = cxrgen("model", "run", "bart-autoencoder", "--set", "pooling=max", "--model-dir", folders[("bart.py", "tied")],
               "--inputs", f"{folders[('bart.py', 'tied')]}/inputs.safetensors", "-o", f"{tmp}/x.safetensors")
    check("a model property of a wrong value is an error that names it", r.returncode == 1 and "pooling" in r.stderr and
          "max" in r.stderr, r.stderr)
    r = cxrgen("model", "run", "bart", "--set", "colour=red", "--model-dir", folders[("bart.py", "tied")],
               "--inputs", f"{folders[('bart.py', 'tied')]}/inputs.safetensors", "-o", f"{tmp}/x.safetensors")
    check("--set of a property the model lacks is an error", r.returncode == 2 and "colour" in r.stderr, r.stderr)

    # the prior from ViT-base-like weights: "vit." names, another patch size,
    # a classifier: what fits loads with partial-load, the rest starts random
    prior = folders.get(("vit.py", "prior"))
    if prior:
        d = os.path.join(tmp, "vit-base-like")
        os.makedirs(d)
        p = {f"vit.{k}": v for k, v in load(f"{prior}/model.safetensors").items()}
        p["vit.embeddings.patch_embeddings.projection.weight"] = torch.zeros(16, 3, 4, 4)
        p["vit.embeddings.position_embeddings"] = torch.zeros(1, 5, 16)
        p["classifier.weight"] = torch.zeros(10, 16)
        save_safetensors(f"{d}/model.safetensors", p)
        args = ["model", "run", "vit-prior", "--config", f"{prior}/config.json", "--weights", f"{d}/model.safetensors",
                "--inputs", f"{prior}/inputs.safetensors", "-o", f"{tmp}/partial.safetensors"]
        r = cxrgen(*args)
        check("weights of another configuration are refused by default, with both shapes", r.returncode == 1 and
              ("expected [16, 4, 2, 2], got [16, 3, 4, 4]" in r.stderr or
               "expected [1, 17, 16], got [1, 5, 16]" in r.stderr), r.stderr)
        r = cxrgen(*args, "--set", "partial-load=true")
        check("with partial-load, what fits loads ('vit.' names), the rest starts random and is listed",
              r.returncode == 0 and "projection.weight is [16, 3, 4, 4], the model's [16, 4, 2, 2]" in r.stderr and
              "position_embeddings" in r.stderr and "initialised randomly" in r.stderr and
              "classifier" not in r.stderr, r.stderr)

    # --loss ce: cross-entropy of the logits against ids, -100 ignored
    bart = folders.get(("bart.py", "tied"))
    if bart:
        logits = load(f"{bart}/expected.safetensors")["logits"].double()
        ids = torch.randint(0, logits.shape[-1], logits.shape[:2], generator=torch.Generator().manual_seed(1))
        ids[0, :2] = -100
        save_safetensors(f"{tmp}/ce-target.safetensors", {"logits": ids})
        r = cxrgen("model", "run", "bart", "--model-dir", bart, "--inputs", f"{bart}/inputs.safetensors",
                   "-o", f"{tmp}/ce.safetensors", "--target", f"{tmp}/ce-target.safetensors", "--loss", "ce")
        want = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), ids.reshape(-1),
                                                 ignore_index=-100).item()
        got = load(f"{tmp}/ce.safetensors")["loss"].item() if r.returncode == 0 else float("nan")
        check(f"--loss ce is PyTorch's cross-entropy with ignore index -100 ({got:.6f} vs {want:.6f})",
              abs(got - want) < 1e-5 * abs(want), r.stderr)

    # compare: exit 1 on a difference, and names the worst element
    expected = load(f"{vision}/expected.safetensors")
    expected["pooler_output"] = expected["pooler_output"].clone()
    expected["pooler_output"][1, 3] += 0.5
    del expected["last_hidden_state"]
    expected["only_here"] = torch.zeros(2)
    save_safetensors(f"{tmp}/changed.safetensors", expected)
    c = cxrgen("model", "compare", f"{tmp}/changed.safetensors", f"{vision}/expected.safetensors")
    check("compare fails on a changed element and points at it", c.returncode == 1 and
          "pooler_output" in c.stdout and "FAIL" in c.stdout and "[1, 3]" in c.stdout, c.stdout)
    check("compare lists tensors on one side only", "only_here" in c.stdout and "last_hidden_state" in c.stdout and
          "only in" in c.stdout, c.stdout)
    c = cxrgen("model", "compare", f"{vision}/expected.safetensors", f"{vision}/expected.safetensors")
    check("compare passes a file against itself", c.returncode == 0, c.stdout)

    # list and bench
    r = cxrgen("model", "list")
    check("model list names each type with its inputs and outputs", r.returncode == 0 and
          all(t in r.stdout for t in ("clip-text", "clip-vision", "densenet", "input_ids", "pooler_output")), r.stdout)
    for train in (False, True):
        args = ["model", "bench", "clip-text", "--config", f"{text}/config.json", "--batch", "2", "--repeat", "2",
                "--json"] + (["--train"] if train else [])
        r = cxrgen(*args)
        try:
            result = json.loads(r.stdout)
        except ValueError:
            result = {}
        check(f"model bench{' --train' if train else ''} on random weights reports time, GFLOP/s and memory",
              r.returncode == 0 and result.get("median_ms", 0) > 0 and result.get("gflops", 0) > 0 and
              result.get("peak_bytes", 0) > 0 and result.get("train") is train, r.stdout + r.stderr)

    # activation recomputation (U-ViT's use_checkpoint): a training step
    # keeps the blocks' inputs only (the gradients: the uvit-recompute
    # fixture above)
    peaks = {}
    for recompute in (False, True):
        cfg = {"img_size": 16, "in_chans": 4, "patch_size": 2, "embed_dim": 64, "depth": 8, "num_heads": 4,
               "clip_dim": 16, "num_clip_token": 8, "use_checkpoint": recompute}
        with open(f"{tmp}/uvit-memory-{recompute}.json", "w") as fp:
            json.dump(cfg, fp)
        r = cxrgen("model", "bench", "uvit", "--config", f"{tmp}/uvit-memory-{recompute}.json", "--batch", "8",
                   "--repeat", "1", "--train", "--json")
        peaks[recompute] = json.loads(r.stdout)["peak_bytes"] if r.returncode == 0 else 0
    check(f"U-ViT with use_checkpoint trains in less memory: peak {peaks[False] / 2**20:.1f} MiB -> "
          f"{peaks[True] / 2**20:.1f} MiB", 0 < peaks[True] < 0.5 * peaks[False], str(peaks))
    unet = folders.get(("sd.py", "unet"))
    if unet is not None:
        for recompute in (False, True):
            r = cxrgen("model", "bench", "sd-unet", "--config", f"{unet}/config.json", "--batch", "4", "--repeat", "1",
                       "--train", "--json", "--set", f"gradient-checkpointing={'true' if recompute else 'false'}")
            peaks[recompute] = json.loads(r.stdout)["peak_bytes"] if r.returncode == 0 else 0
        check(f"the UNet with gradient-checkpointing trains in less memory: peak {peaks[False] / 2**20:.1f} MiB -> "
              f"{peaks[True] / 2**20:.1f} MiB", 0 < peaks[True] < 0.6 * peaks[False], str(peaks))

finish()
