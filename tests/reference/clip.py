# tests/reference/clip.py: CLIP's text and vision towers in plain PyTorch,
# written from the architecture with transformers' parameter names, to
# make fixtures for `cxrgen model run` (see common.py).
#   /usr/bin/python3 tests/reference/clip.py text|vision|whole DIR
import math
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import random_params, write_fixture  # noqa: E402


def quick_gelu(x):
    return x * torch.sigmoid(1.702 * x)


def layer_norm(p, name, x, eps):
    return F.layer_norm(x, x.shape[-1:], p[f"{name}.weight"], p[f"{name}.bias"], eps)


def linear(p, name, x):
    return F.linear(x, p[f"{name}.weight"], p.get(f"{name}.bias"))


def encoder(p, prefix, cfg, x, causal, key_mask=None):
    b, n, d = x.shape
    h = cfg["num_attention_heads"]
    eps = cfg.get("layer_norm_eps", 1e-5)
    act = quick_gelu if cfg.get("hidden_act", "quick_gelu") == "quick_gelu" else F.gelu
    bias = torch.zeros(n, n, dtype=x.dtype)
    if causal:
        bias = bias.masked_fill(torch.ones(n, n, dtype=torch.bool).triu(1), float("-inf"))
    bias = bias.expand(b, 1, n, n)
    if key_mask is not None:
        bias = bias.masked_fill(key_mask[:, None, None, :] == 0, float("-inf"))
    for i in range(cfg["num_hidden_layers"]):
        base = f"{prefix}.encoder.layers.{i}"
        y = layer_norm(p, f"{base}.layer_norm1", x, eps)
        q = linear(p, f"{base}.self_attn.q_proj", y) * (d // h) ** -0.5
        k = linear(p, f"{base}.self_attn.k_proj", y)
        v = linear(p, f"{base}.self_attn.v_proj", y)
        q, k, v = (t.view(b, n, h, d // h).transpose(1, 2) for t in (q, k, v))
        a = torch.softmax(q @ k.transpose(-1, -2) + bias, dim=-1) @ v
        x = x + linear(p, f"{base}.self_attn.out_proj", a.transpose(1, 2).reshape(b, n, d))
        y = layer_norm(p, f"{base}.layer_norm2", x, eps)
        x = x + linear(p, f"{base}.mlp.fc2", act(linear(p, f"{base}.mlp.fc1", y)))
    return x


def encoder_shapes(prefix, cfg):
    d, f = cfg["hidden_size"], cfg["intermediate_size"]
    shapes = {}
    for i in range(cfg["num_hidden_layers"]):
        base = f"{prefix}.encoder.layers.{i}"
        for proj in ("q_proj", "k_proj", "v_proj", "out_proj"):
            shapes[f"{base}.self_attn.{proj}.weight"] = (d, d)
            shapes[f"{base}.self_attn.{proj}.bias"] = (d,)
        for ln in ("layer_norm1", "layer_norm2"):
            shapes[f"{base}.{ln}.weight"] = (d,)
            shapes[f"{base}.{ln}.bias"] = (d,)
        shapes[f"{base}.mlp.fc1.weight"] = (f, d)
        shapes[f"{base}.mlp.fc1.bias"] = (f,)
        shapes[f"{base}.mlp.fc2.weight"] = (d, f)
        shapes[f"{base}.mlp.fc2.bias"] = (d,)
    return shapes


TEXT = {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_size": 32,
        "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "max_position_embeddings": 16,
        "vocab_size": 50, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5, "projection_dim": 24,
        "attention_dropout": 0.0, "dropout": 0.0, "initializer_factor": 1.0, "initializer_range": 0.02,
        "bos_token_id": 0, "eos_token_id": 2, "pad_token_id": 1, "torch_dtype": "float32",
        "transformers_version": "4.22.0.dev0", "_name_or_path": "tiny"}
VISION = {"architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model", "hidden_size": 32,
          "intermediate_size": 48, "num_attention_heads": 2, "num_hidden_layers": 2, "image_size": 32,
          "patch_size": 8, "num_channels": 3, "hidden_act": "quick_gelu", "layer_norm_eps": 1e-5,
          "projection_dim": 16, "attention_dropout": 0.0, "dropout": 0.0}


def text_shapes(cfg, projection):
    d = cfg["hidden_size"]
    shapes = {"text_model.embeddings.token_embedding.weight": (cfg["vocab_size"], d),
              "text_model.embeddings.position_embedding.weight": (cfg["max_position_embeddings"], d),
              "text_model.final_layer_norm.weight": (d,), "text_model.final_layer_norm.bias": (d,)}
    shapes.update(encoder_shapes("text_model", cfg))
    if projection:
        shapes["text_projection.weight"] = (projection, d)
    return shapes


def vision_shapes(cfg, projection):
    d, ps = cfg["hidden_size"], cfg["patch_size"]
    n = (cfg["image_size"] // ps) ** 2
    shapes = {"vision_model.embeddings.class_embedding": (d,),
              "vision_model.embeddings.patch_embedding.weight": (d, cfg["num_channels"], ps, ps),
              "vision_model.embeddings.position_embedding.weight": (n + 1, d),
              "vision_model.pre_layrnorm.weight": (d,), "vision_model.pre_layrnorm.bias": (d,),
              "vision_model.post_layernorm.weight": (d,), "vision_model.post_layernorm.bias": (d,)}
    shapes.update(encoder_shapes("vision_model", cfg))
    if projection:
        shapes["visual_projection.weight"] = (projection, d)
    return shapes


def text_forward(cfg, projection):
    def forward(p, inputs):
        ids = inputs["input_ids"]
        b, n = ids.shape
        x = p["text_model.embeddings.token_embedding.weight"][ids] + p["text_model.embeddings.position_embedding.weight"][:n]
        x = encoder(p, "text_model", cfg, x, True, inputs.get("attention_mask"))
        last = layer_norm(p, "text_model.final_layer_norm", x, cfg.get("layer_norm_eps", 1e-5))
        eos = cfg.get("eos_token_id", 2)
        at = ids.argmax(-1) if eos == 2 else (ids == eos).int().argmax(-1)
        out = {"last_hidden_state": last, "pooler_output": last[torch.arange(b), at]}
        if projection:
            out["text_embeds"] = out["pooler_output"] @ p["text_projection.weight"].T
        return out
    return forward


def vision_forward(cfg, projection):
    def forward(p, inputs):
        px = inputs["pixel_values"]
        b = px.shape[0]
        patches = F.conv2d(px, p["vision_model.embeddings.patch_embedding.weight"], stride=cfg["patch_size"])
        patches = patches.flatten(2).transpose(1, 2)
        cls = p["vision_model.embeddings.class_embedding"].expand(b, 1, -1)
        x = torch.cat([cls, patches], 1) + p["vision_model.embeddings.position_embedding.weight"]
        eps = cfg.get("layer_norm_eps", 1e-5)
        x = layer_norm(p, "vision_model.pre_layrnorm", x, eps)
        last = encoder(p, "vision_model", cfg, x, False)
        pooled = layer_norm(p, "vision_model.post_layernorm", last[:, 0], eps)
        out = {"last_hidden_state": last, "pooler_output": pooled}
        if projection:
            out["image_embeds"] = pooled @ p["visual_projection.weight"].T
        return out
    return forward


def main(kind, folder):
    g = torch.Generator().manual_seed(7)
    if kind == "text":
        cfg = TEXT
        params = random_params(text_shapes(cfg, 0), 11)
        ids = torch.randint(3, cfg["vocab_size"], (3, 9), generator=g)
        ids[0, 6], ids[1, 8], ids[2, 4] = 49, 49, 49  # the end token: the largest id
        mask = torch.ones(3, 9, dtype=torch.int64)
        mask[2, 5:] = 0
        inputs = {"input_ids": ids, "attention_mask": mask}
        forward = text_forward(cfg, 0)
        targets = {"last_hidden_state": torch.randn(3, 9, cfg["hidden_size"], generator=g),
                   "pooler_output": torch.randn(3, cfg["hidden_size"], generator=g)}
        write_fixture(folder, cfg, params, inputs, forward, targets)
    elif kind == "vision":
        cfg = VISION
        params = random_params(vision_shapes(cfg, 0), 12)
        inputs = {"pixel_values": torch.randn(2, 3, 32, 32, generator=g)}
        targets = {"pooler_output": torch.randn(2, cfg["hidden_size"], generator=g)}
        write_fixture(folder, cfg, params, inputs, vision_forward(cfg, 0), targets)
    elif kind == "whole":
        # a whole CLIPModel: both towers and projections in one file, the
        # configuration with text_config and vision_config
        cfg = {"architectures": ["CLIPModel"], "model_type": "clip", "projection_dim": 16,
               "logit_scale_init_value": 2.6592, "text_config": dict(TEXT, eos_token_id=49),
               "vision_config": VISION}
        shapes = dict(text_shapes(TEXT, 16))
        shapes.update(vision_shapes(VISION, 16))
        params = random_params(shapes, 13)
        params["logit_scale"] = torch.tensor(2.6592)
        params["text_model.embeddings.position_ids"] = torch.arange(TEXT["max_position_embeddings"])[None]
        inputs = {"pixel_values": torch.randn(2, 3, 32, 32, generator=g)}
        write_fixture(folder, cfg, params, inputs, vision_forward(VISION, 16))
    else:
        raise SystemExit(f"unknown kind {kind}")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
