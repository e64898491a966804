# tests/reference/uvit.py: U-ViT's text-to-image network (the U-ViT
# repository's uvit_t2i: patch embedding, time and context tokens, long
# skips, unpatchify, final convolution) in plain PyTorch, written from the
# architecture with its parameter names, in tiny configurations, to make
# fixtures for `cxrgen model run`.
#   /usr/bin/python3 tests/reference/uvit.py uvit|uvit-mlp|uvit-recompute DIR
import math
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import random_params, write_fixture  # noqa: E402

UVIT = {"_class_name": "UViT", "img_size": 8, "in_chans": 4, "patch_size": 2, "embed_dim": 16, "depth": 4,
        "num_heads": 4, "mlp_ratio": 2, "qkv_bias": False, "mlp_time_embed": False, "clip_dim": 12,
        "num_clip_token": 5, "conv": True, "skip": True}
# the other switches: a time MLP, biased qkv, no final convolution, odd depth
UVIT_MLP = dict(UVIT, mlp_time_embed=True, qkv_bias=True, conv=False, depth=3, mlp_ratio=1.5)
# activation recomputation: the same network, the same gradients
UVIT_RECOMPUTE = dict(UVIT, use_checkpoint=True)


def shapes(cfg):
    d, c, p = cfg["embed_dim"], cfg["in_chans"], cfg["patch_size"]
    hidden = int(d * cfg["mlp_ratio"])
    n = (cfg["img_size"] // p) ** 2
    s = {"patch_embed.proj.weight": (d, c, p, p), "patch_embed.proj.bias": (d,),
         "context_embed.weight": (d, cfg["clip_dim"]), "context_embed.bias": (d,),
         "pos_embed": (1, 1 + cfg["num_clip_token"] + n, d), "norm.weight": (d,), "norm.bias": (d,),
         "decoder_pred.weight": (p * p * c, d), "decoder_pred.bias": (p * p * c,)}
    if cfg["mlp_time_embed"]:
        s.update({"time_embed.0.weight": (4 * d, d), "time_embed.0.bias": (4 * d,),
                  "time_embed.2.weight": (d, 4 * d), "time_embed.2.bias": (d,)})
    if cfg["conv"]:
        s.update({"final_layer.weight": (c, c, 3, 3), "final_layer.bias": (c,)})
    blocks = [(f"in_blocks.{i}", False) for i in range(cfg["depth"] // 2)] + [("mid_block", False)] + \
        [(f"out_blocks.{i}", cfg["skip"]) for i in range(cfg["depth"] // 2)]
    for b, skip in blocks:
        if skip:
            s[f"{b}.skip_linear.weight"] = (d, 2 * d)
            s[f"{b}.skip_linear.bias"] = (d,)
        for ln in ("norm1", "norm2"):
            s[f"{b}.{ln}.weight"] = (d,)
            s[f"{b}.{ln}.bias"] = (d,)
        s[f"{b}.attn.qkv.weight"] = (3 * d, d)
        if cfg["qkv_bias"]:
            s[f"{b}.attn.qkv.bias"] = (3 * d,)
        s[f"{b}.attn.proj.weight"] = (d, d)
        s[f"{b}.attn.proj.bias"] = (d,)
        s[f"{b}.mlp.fc1.weight"] = (hidden, d)
        s[f"{b}.mlp.fc1.bias"] = (hidden,)
        s[f"{b}.mlp.fc2.weight"] = (d, hidden)
        s[f"{b}.mlp.fc2.bias"] = (d,)
    return s


def timestep_embedding(t, dim, max_period=10000):
    """Guided diffusion's: cos then sin."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float64) / half)
    args = t[:, None].double() * freqs[None]
    return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)


def forward(cfg):
    d, heads, p, c = cfg["embed_dim"], cfg["num_heads"], cfg["patch_size"], cfg["in_chans"]

    def run(P, inputs):
        x, t, ctx = inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"]
        b = x.shape[0]

        def lin(name, y, bias=True):
            return F.linear(y, P[f"{name}.weight"], P[f"{name}.bias"] if bias else None)

        def ln(name, y):
            return F.layer_norm(y, (d,), P[f"{name}.weight"], P[f"{name}.bias"], 1e-5)

        def block(name, y, skip=None):
            if skip is not None:
                y = lin(f"{name}.skip_linear", torch.cat([y, skip], -1))
            h = ln(f"{name}.norm1", y)
            L = h.shape[1]
            qkv = lin(f"{name}.attn.qkv", h, cfg["qkv_bias"]).reshape(b, L, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            q, k, v = qkv[0], qkv[1], qkv[2]
            a = torch.softmax(q @ k.transpose(-1, -2) * (d // heads) ** -0.5, -1) @ v
            y = y + lin(f"{name}.attn.proj", a.transpose(1, 2).reshape(b, L, d))
            h = ln(f"{name}.norm2", y)
            return y + lin(f"{name}.mlp.fc2", F.gelu(lin(f"{name}.mlp.fc1", h)))

        tokens = F.conv2d(x, P["patch_embed.proj.weight"], P["patch_embed.proj.bias"], stride=p).flatten(2).transpose(1, 2)
        n_patches = tokens.shape[1]
        temb = timestep_embedding(t.expand(b) if t.numel() == 1 else t, d).to(x.dtype)
        if cfg["mlp_time_embed"]:
            temb = lin("time_embed.2", F.silu(lin("time_embed.0", temb)))
        h = torch.cat([temb[:, None], lin("context_embed", ctx), tokens], 1) + P["pos_embed"]
        skips = []
        for i in range(cfg["depth"] // 2):
            h = block(f"in_blocks.{i}", h)
            skips.append(h)
        h = block("mid_block", h)
        for i in range(cfg["depth"] // 2):
            h = block(f"out_blocks.{i}", h, skips.pop() if cfg["skip"] else None)
        h = lin("decoder_pred", ln("norm", h))[:, 1 + cfg["num_clip_token"]:]
        g = int(n_patches ** 0.5)
        # 'B (h w) (p1 p2 C) -> B C (h p1) (w p2)'
        h = h.reshape(b, g, g, p, p, c).permute(0, 5, 1, 3, 2, 4).reshape(b, c, g * p, g * p)
        if cfg["conv"]:
            h = F.conv2d(h, P["final_layer.weight"], P["final_layer.bias"], padding=1)
        return {"sample": h}
    return run


def main(kind, folder):
    cfg = {"uvit": UVIT, "uvit-mlp": UVIT_MLP, "uvit-recompute": UVIT_RECOMPUTE}[kind]
    g = torch.Generator().manual_seed(17)
    params = random_params(shapes(cfg), 61)
    inputs = {"sample": torch.randn(2, 4, 8, 8, generator=g), "timestep": torch.tensor([10, 731]),
              "encoder_hidden_states": torch.randn(2, cfg["num_clip_token"], cfg["clip_dim"], generator=g)}
    targets = {"sample": torch.randn(2, 4, 8, 8, generator=g)}
    write_fixture(folder, cfg, params, inputs, forward(cfg), targets)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
