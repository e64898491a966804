# tests/reference/sd.py: Stable Diffusion's UNet2DConditionModel and
# AutoencoderKL in plain PyTorch, written from the architecture with
# diffusers' parameter names, in tiny configurations, to make fixtures for
# `cxrgen model run` (see common.py).
#   /usr/bin/python3 tests/reference/sd.py unet|vae|vae-old DIR
import math
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import random_params, write_fixture  # noqa: E402

UNET = {"_class_name": "UNet2DConditionModel", "_diffusers_version": "0.2.2", "act_fn": "silu",
        "attention_head_dim": 2, "block_out_channels": [16, 32], "center_input_sample": False,
        "cross_attention_dim": 12, "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"],
        "downsample_padding": 1, "flip_sin_to_cos": True, "freq_shift": 0, "in_channels": 4, "layers_per_block": 1,
        "mid_block_scale_factor": 1, "norm_eps": 1e-05, "norm_num_groups": 8, "out_channels": 4, "sample_size": 8,
        "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]}
VAE = {"_class_name": "AutoencoderKL", "_diffusers_version": "0.2.2", "act_fn": "silu",
       "block_out_channels": [8, 16], "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"],
       "in_channels": 3, "latent_channels": 4, "layers_per_block": 1, "norm_num_groups": 4, "out_channels": 3,
       "sample_size": 16, "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"]}


# ---------------------------------------------------------------- shapes

def conv_shapes(s, name, out, inp, k):
    s[f"{name}.weight"] = (out, inp, k, k)
    s[f"{name}.bias"] = (out,)


def norm_shapes(s, name, c):
    s[f"{name}.weight"] = (c,)
    s[f"{name}.bias"] = (c,)


def resnet_shapes(s, name, inp, out, temb):
    norm_shapes(s, f"{name}.norm1", inp)
    conv_shapes(s, f"{name}.conv1", out, inp, 3)
    if temb:
        s[f"{name}.time_emb_proj.weight"] = (out, temb)
        s[f"{name}.time_emb_proj.bias"] = (out,)
    norm_shapes(s, f"{name}.norm2", out)
    conv_shapes(s, f"{name}.conv2", out, out, 3)
    if inp != out:
        conv_shapes(s, f"{name}.conv_shortcut", out, inp, 1)


def transformer_shapes(s, name, c, cross):
    norm_shapes(s, f"{name}.norm", c)
    conv_shapes(s, f"{name}.proj_in", c, c, 1)
    conv_shapes(s, f"{name}.proj_out", c, c, 1)
    tb = f"{name}.transformer_blocks.0"
    for a, kv in ((1, c), (2, cross)):
        norm_shapes(s, f"{tb}.norm{a}", c)
        s[f"{tb}.attn{a}.to_q.weight"] = (c, c)
        s[f"{tb}.attn{a}.to_k.weight"] = (c, kv)
        s[f"{tb}.attn{a}.to_v.weight"] = (c, kv)
        s[f"{tb}.attn{a}.to_out.0.weight"] = (c, c)
        s[f"{tb}.attn{a}.to_out.0.bias"] = (c,)
    norm_shapes(s, f"{tb}.norm3", c)
    s[f"{tb}.ff.net.0.proj.weight"] = (8 * c, c)
    s[f"{tb}.ff.net.0.proj.bias"] = (8 * c,)
    s[f"{tb}.ff.net.2.weight"] = (c, 4 * c)
    s[f"{tb}.ff.net.2.bias"] = (c,)


def unet_shapes(cfg):
    ch, n, layers = cfg["block_out_channels"], len(cfg["block_out_channels"]), cfg["layers_per_block"]
    temb = 4 * ch[0]
    s = {"time_embedding.linear_1.weight": (temb, ch[0]), "time_embedding.linear_1.bias": (temb,),
         "time_embedding.linear_2.weight": (temb, temb), "time_embedding.linear_2.bias": (temb,)}
    conv_shapes(s, "conv_in", ch[0], cfg["in_channels"], 3)
    for i in range(n):
        inp = ch[0] if i == 0 else ch[i - 1]
        for j in range(layers):
            resnet_shapes(s, f"down_blocks.{i}.resnets.{j}", inp if j == 0 else ch[i], ch[i], temb)
            if cfg["down_block_types"][i].startswith("CrossAttn"):
                transformer_shapes(s, f"down_blocks.{i}.attentions.{j}", ch[i], cfg["cross_attention_dim"])
        if i + 1 < n:
            conv_shapes(s, f"down_blocks.{i}.downsamplers.0.conv", ch[i], ch[i], 3)
    resnet_shapes(s, "mid_block.resnets.0", ch[-1], ch[-1], temb)
    transformer_shapes(s, "mid_block.attentions.0", ch[-1], cfg["cross_attention_dim"])
    resnet_shapes(s, "mid_block.resnets.1", ch[-1], ch[-1], temb)
    rev = ch[::-1]
    for i in range(n):
        out, prev, inp = rev[i], rev[max(i - 1, 0)], rev[min(i + 1, n - 1)]
        for j in range(layers + 1):
            skip = inp if j == layers else out
            resnet_shapes(s, f"up_blocks.{i}.resnets.{j}", (prev if j == 0 else out) + skip, out, temb)
            if cfg["up_block_types"][i].startswith("CrossAttn"):
                transformer_shapes(s, f"up_blocks.{i}.attentions.{j}", out, cfg["cross_attention_dim"])
        if i + 1 < n:
            conv_shapes(s, f"up_blocks.{i}.upsamplers.0.conv", out, out, 3)
    norm_shapes(s, "conv_norm_out", ch[0])
    conv_shapes(s, "conv_out", cfg["out_channels"], ch[0], 3)
    return s


def vae_mid_shapes(s, name, c, old_names):
    resnet_shapes(s, f"{name}.resnets.0", c, c, 0)
    norm_shapes(s, f"{name}.attentions.0.group_norm", c)
    parts = ("query", "key", "value", "proj_attn") if old_names else ("to_q", "to_k", "to_v", "to_out.0")
    for p in parts:
        s[f"{name}.attentions.0.{p}.weight"] = (c, c)
        s[f"{name}.attentions.0.{p}.bias"] = (c,)
    resnet_shapes(s, f"{name}.resnets.1", c, c, 0)


def vae_shapes(cfg, old_names=False):
    ch, n, layers, lat = cfg["block_out_channels"], len(cfg["block_out_channels"]), cfg["layers_per_block"], \
        cfg["latent_channels"]
    s = {}
    conv_shapes(s, "encoder.conv_in", ch[0], cfg["in_channels"], 3)
    for i in range(n):
        inp = ch[0] if i == 0 else ch[i - 1]
        for j in range(layers):
            resnet_shapes(s, f"encoder.down_blocks.{i}.resnets.{j}", inp if j == 0 else ch[i], ch[i], 0)
        if i + 1 < n:
            conv_shapes(s, f"encoder.down_blocks.{i}.downsamplers.0.conv", ch[i], ch[i], 3)
    vae_mid_shapes(s, "encoder.mid_block", ch[-1], old_names)
    norm_shapes(s, "encoder.conv_norm_out", ch[-1])
    conv_shapes(s, "encoder.conv_out", 2 * lat, ch[-1], 3)
    conv_shapes(s, "quant_conv", 2 * lat, 2 * lat, 1)
    conv_shapes(s, "post_quant_conv", lat, lat, 1)
    conv_shapes(s, "decoder.conv_in", ch[-1], lat, 3)
    vae_mid_shapes(s, "decoder.mid_block", ch[-1], old_names)
    rev = ch[::-1]
    for i in range(n):
        out, prev = rev[i], rev[max(i - 1, 0)]
        for j in range(layers + 1):
            resnet_shapes(s, f"decoder.up_blocks.{i}.resnets.{j}", prev if j == 0 else out, out, 0)
        if i + 1 < n:
            conv_shapes(s, f"decoder.up_blocks.{i}.upsamplers.0.conv", out, out, 3)
    norm_shapes(s, "decoder.conv_norm_out", ch[0])
    conv_shapes(s, "decoder.conv_out", cfg["out_channels"], ch[0], 3)
    return s


# --------------------------------------------------------------- compute

def conv(p, name, x, stride=1, padding=1):
    return F.conv2d(x, p[f"{name}.weight"], p[f"{name}.bias"], stride=stride, padding=padding)


def gn(p, name, x, groups, eps):
    return F.group_norm(x, groups, p[f"{name}.weight"], p[f"{name}.bias"], eps)


def resnet(p, name, x, temb, groups, eps):
    h = conv(p, f"{name}.conv1", F.silu(gn(p, f"{name}.norm1", x, groups, eps)))
    if temb is not None:
        h = h + F.linear(F.silu(temb), p[f"{name}.time_emb_proj.weight"], p[f"{name}.time_emb_proj.bias"])[:, :, None, None]
    h = conv(p, f"{name}.conv2", F.silu(gn(p, f"{name}.norm2", h, groups, eps)))
    if f"{name}.conv_shortcut.weight" in p:
        x = conv(p, f"{name}.conv_shortcut", x, padding=0)
    return x + h


def attention(p, name, x, ctx, heads, bias):
    def lin(part, t):
        return F.linear(t, p[f"{name}.{part}.weight"], p.get(f"{name}.{part}.bias") if bias else None)
    q, k, v = lin("to_q", x), lin("to_k", ctx), lin("to_v", ctx)
    b, n, d = q.shape
    q, k, v = (t.reshape(b, -1, heads, d // heads).transpose(1, 2) for t in (q, k, v))
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // heads), dim=-1)
    a = (w @ v).transpose(1, 2).reshape(b, n, d)
    return F.linear(a, p[f"{name}.to_out.0.weight"], p[f"{name}.to_out.0.bias"])


def transformer(p, name, x, ctx, heads, groups):
    b, c, hh, ww = x.shape
    h = conv(p, f"{name}.proj_in", gn(p, f"{name}.norm", x, groups, 1e-6), padding=0)
    t = h.reshape(b, c, hh * ww).transpose(1, 2)
    tb = f"{name}.transformer_blocks.0"

    def ln(i, y):
        return F.layer_norm(y, (c,), p[f"{tb}.norm{i}.weight"], p[f"{tb}.norm{i}.bias"], 1e-5)
    t = attention(p, f"{tb}.attn1", ln(1, t), ln(1, t), heads, False) + t
    t = attention(p, f"{tb}.attn2", ln(2, t), ctx, heads, False) + t
    hidden, gate = F.linear(ln(3, t), p[f"{tb}.ff.net.0.proj.weight"], p[f"{tb}.ff.net.0.proj.bias"]).chunk(2, dim=-1)
    t = F.linear(hidden * F.gelu(gate), p[f"{tb}.ff.net.2.weight"], p[f"{tb}.ff.net.2.bias"]) + t
    h = conv(p, f"{name}.proj_out", t.transpose(1, 2).reshape(b, c, hh, ww), padding=0)
    return h + x


def timestep_embedding(t, dim):
    half = dim // 2
    exponent = -math.log(10000) * torch.arange(half, dtype=torch.float32) / half
    emb = t.float()[:, None] * torch.exp(exponent)[None]
    emb = torch.cat([torch.sin(emb), torch.cos(emb)], dim=-1)
    return torch.cat([emb[:, half:], emb[:, :half]], dim=-1)  # flip_sin_to_cos


def unet_forward(cfg):
    def forward(p, inputs):
        x, t, ctx = inputs["sample"], inputs["timestep"], inputs["encoder_hidden_states"]
        ch, n, layers, g, eps = cfg["block_out_channels"], len(cfg["block_out_channels"]), cfg["layers_per_block"], \
            cfg["norm_num_groups"], cfg["norm_eps"]
        heads = cfg["attention_head_dim"]
        temb = timestep_embedding(t.reshape(-1).expand(x.shape[0]), ch[0]).to(x.dtype)
        temb = F.linear(temb, p["time_embedding.linear_1.weight"], p["time_embedding.linear_1.bias"])
        temb = F.linear(F.silu(temb), p["time_embedding.linear_2.weight"], p["time_embedding.linear_2.bias"])
        h = conv(p, "conv_in", x)
        skips = [h]
        for i in range(n):
            for j in range(layers):
                h = resnet(p, f"down_blocks.{i}.resnets.{j}", h, temb, g, eps)
                if cfg["down_block_types"][i].startswith("CrossAttn"):
                    h = transformer(p, f"down_blocks.{i}.attentions.{j}", h, ctx, heads, g)
                skips.append(h)
            if i + 1 < n:
                h = conv(p, f"down_blocks.{i}.downsamplers.0.conv", h, stride=2)
                skips.append(h)
        h = resnet(p, "mid_block.resnets.0", h, temb, g, eps)
        h = transformer(p, "mid_block.attentions.0", h, ctx, heads, g)
        h = resnet(p, "mid_block.resnets.1", h, temb, g, eps)
        for i in range(n):
            for j in range(layers + 1):
                h = resnet(p, f"up_blocks.{i}.resnets.{j}", torch.cat([h, skips.pop()], 1), temb, g, eps)
                if cfg["up_block_types"][i].startswith("CrossAttn"):
                    h = transformer(p, f"up_blocks.{i}.attentions.{j}", h, ctx, heads, g)
            if i + 1 < n:
                h = conv(p, f"up_blocks.{i}.upsamplers.0.conv", F.interpolate(h, scale_factor=2.0, mode="nearest"))
        h = conv(p, "conv_out", F.silu(gn(p, "conv_norm_out", h, g, eps)))
        return {"sample": h}
    return forward


def vae_mid(p, name, x, g, old_names):
    h = resnet(p, f"{name}.resnets.0", x, None, g, 1e-6)
    b, c, hh, ww = h.shape
    a = f"{name}.attentions.0"
    if old_names:
        q = {f"{a}.{new}.{k}": p[f"{a}.{old}.{k}"] for new, old in
             (("to_q", "query"), ("to_k", "key"), ("to_v", "value"), ("to_out.0", "proj_attn")) for k in ("weight", "bias")}
        p = dict(p, **q)
    t = gn(p, f"{a}.group_norm", h, g, 1e-6).reshape(b, c, hh * ww).transpose(1, 2)
    t = attention(p, a, t, t, 1, True).transpose(1, 2).reshape(b, c, hh, ww) + h
    return resnet(p, f"{name}.resnets.1", t, None, g, 1e-6)


def vae_decode(cfg, p, latents, old_names=False):
    """Unscaled latents to images."""
    n, layers, g = len(cfg["block_out_channels"]), cfg["layers_per_block"], cfg["norm_num_groups"]
    z = conv(p, "post_quant_conv", latents, padding=0)
    z = conv(p, "decoder.conv_in", z)
    z = vae_mid(p, "decoder.mid_block", z, g, old_names)
    for i in range(n):
        for j in range(layers + 1):
            z = resnet(p, f"decoder.up_blocks.{i}.resnets.{j}", z, None, g, 1e-6)
        if i + 1 < n:
            z = conv(p, f"decoder.up_blocks.{i}.upsamplers.0.conv", F.interpolate(z, scale_factor=2.0, mode="nearest"))
    return conv(p, "decoder.conv_out", F.silu(gn(p, "decoder.conv_norm_out", z, g, 1e-6)))


def vae_forward(cfg, old_names=False):
    def forward(p, inputs):
        ch, n, layers, g, lat = cfg["block_out_channels"], len(cfg["block_out_channels"]), cfg["layers_per_block"], \
            cfg["norm_num_groups"], cfg["latent_channels"]
        h = conv(p, "encoder.conv_in", inputs["sample"])
        for i in range(n):
            for j in range(layers):
                h = resnet(p, f"encoder.down_blocks.{i}.resnets.{j}", h, None, g, 1e-6)
            if i + 1 < n:
                h = conv(p, f"encoder.down_blocks.{i}.downsamplers.0.conv", F.pad(h, (0, 1, 0, 1)), stride=2, padding=0)
        h = vae_mid(p, "encoder.mid_block", h, g, old_names)
        h = conv(p, "encoder.conv_out", F.silu(gn(p, "encoder.conv_norm_out", h, g, 1e-6)))
        h = conv(p, "quant_conv", h, padding=0)
        mean, logvar = h[:, :lat], h[:, lat:].clamp(-30.0, 20.0)
        z = vae_decode(cfg, p, mean, old_names)
        return {"latent_mean": mean, "latent_logvar": logvar, "sample": z}
    return forward


def make_tiny_sd(folder, corpus, seed=1):
    """A Stable Diffusion folder as stable-diffusion-v1-4 lays it out
    (text_encoder/, tokenizer/, unet/, vae/) plus a CLIP vision tower
    (clip-vision/), all tiny, random, their widths matching (12): what the
    sampling tests and the phantom pipelines run. Returns the parameters
    and configurations by part."""
    import json
    import os

    import clip
    from clip_tokenizer import SPECIAL, learn, write_files
    from common import save_safetensors

    vocab, merges = learn(corpus, 120)
    d = UNET["cross_attention_dim"]
    text_cfg = dict(clip.TEXT, hidden_size=d, num_attention_heads=2, intermediate_size=24, max_position_embeddings=77,
                    vocab_size=len(vocab), eos_token_id=vocab[SPECIAL[1]])
    vision_cfg = dict(clip.VISION, hidden_size=d, num_attention_heads=2, intermediate_size=24)
    parts = {"text_encoder": (text_cfg, clip.text_shapes(text_cfg, 0)),
             "clip-vision": (vision_cfg, clip.vision_shapes(vision_cfg, 0)),
             "unet": (UNET, unet_shapes(UNET)), "vae": (VAE, vae_shapes(VAE))}
    out = {}
    for k, (name, (cfg, shapes)) in enumerate(parts.items()):
        os.makedirs(f"{folder}/{name}", exist_ok=True)
        params = random_params(shapes, seed * 100 + k)
        with open(f"{folder}/{name}/config.json", "w") as fp:
            json.dump(cfg, fp, indent=1)
        save_safetensors(f"{folder}/{name}/{'model' if 'unet' not in name and 'vae' not in name else 'diffusion_pytorch_model'}"
                         ".safetensors", params)
        out[name] = (cfg, params)
    os.makedirs(f"{folder}/tokenizer", exist_ok=True)
    write_files(f"{folder}/tokenizer", vocab, merges)
    out["tokenizer"] = (vocab, merges)
    return out


def main(kind, folder):
    g = torch.Generator().manual_seed(5)
    if kind == "unet":
        params = random_params(unet_shapes(UNET), 31)
        inputs = {"sample": torch.randn(2, 4, 8, 8, generator=g), "timestep": torch.tensor([10, 731]),
                  "encoder_hidden_states": torch.randn(2, 5, UNET["cross_attention_dim"], generator=g)}
        targets = {"sample": torch.randn(2, 4, 8, 8, generator=g)}
        write_fixture(folder, UNET, params, inputs, unet_forward(UNET), targets)
    elif kind in ("vae", "vae-old"):
        old = kind == "vae-old"
        params = random_params(vae_shapes(VAE, old), 32)
        inputs = {"sample": torch.rand(2, 3, 16, 16, generator=g) * 2 - 1}
        write_fixture(folder, VAE, params, inputs, vae_forward(VAE, old))
    else:
        raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
