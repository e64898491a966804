# tests/reference/vit.py: transformers' ViTModel (the paper's prior) in
# plain PyTorch, written from the architecture with its parameter names,
# in a tiny configuration, to make fixtures for `cxrgen model run`.
#   /usr/bin/python3 tests/reference/vit.py prior DIR
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import random_params, write_fixture  # noqa: E402

VIT = {"architectures": ["ViTModel"], "model_type": "vit", "hidden_act": "gelu", "hidden_size": 16,
       "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 32, "image_size": 8, "patch_size": 2,
       "num_channels": 4, "layer_norm_eps": 1e-12, "qkv_bias": True, "hidden_dropout_prob": 0.0,
       "attention_probs_dropout_prob": 0.0, "initializer_range": 0.02, "encoder_stride": 2}


def shapes(cfg):
    d, f, p, c = cfg["hidden_size"], cfg["intermediate_size"], cfg["patch_size"], cfg["num_channels"]
    n = (cfg["image_size"] // p) ** 2
    s = {"embeddings.cls_token": (1, 1, d), "embeddings.position_embeddings": (1, n + 1, d),
         "embeddings.patch_embeddings.projection.weight": (d, c, p, p),
         "embeddings.patch_embeddings.projection.bias": (d,),
         "layernorm.weight": (d,), "layernorm.bias": (d,), "pooler.dense.weight": (d, d), "pooler.dense.bias": (d,)}
    for i in range(cfg["num_hidden_layers"]):
        b = f"encoder.layer.{i}"
        for name in ("attention.attention.query", "attention.attention.key", "attention.attention.value",
                     "attention.output.dense"):
            s[f"{b}.{name}.weight"] = (d, d)
            s[f"{b}.{name}.bias"] = (d,)
        s[f"{b}.intermediate.dense.weight"] = (f, d)
        s[f"{b}.intermediate.dense.bias"] = (f,)
        s[f"{b}.output.dense.weight"] = (d, f)
        s[f"{b}.output.dense.bias"] = (d,)
        for ln in ("layernorm_before", "layernorm_after"):
            s[f"{b}.{ln}.weight"] = (d,)
            s[f"{b}.{ln}.bias"] = (d,)
    return s


def forward(cfg):
    def run(p, inputs):
        x = inputs["pixel_values"]
        b = x.shape[0]
        d, h, eps = cfg["hidden_size"], cfg["num_attention_heads"], cfg["layer_norm_eps"]
        t = F.conv2d(x, p["embeddings.patch_embeddings.projection.weight"],
                     p["embeddings.patch_embeddings.projection.bias"], stride=cfg["patch_size"]).flatten(2).transpose(1, 2)
        t = torch.cat([p["embeddings.cls_token"].expand(b, -1, -1), t], 1) + p["embeddings.position_embeddings"]

        def ln(name, y):
            return F.layer_norm(y, (d,), p[f"{name}.weight"], p[f"{name}.bias"], eps)

        def lin(name, y):
            return F.linear(y, p[f"{name}.weight"], p[f"{name}.bias"])
        for i in range(cfg["num_hidden_layers"]):
            base = f"encoder.layer.{i}"
            y = ln(f"{base}.layernorm_before", t)
            n = y.shape[1]
            q, k, v = (lin(f"{base}.attention.attention.{w}", y).reshape(b, n, h, d // h).transpose(1, 2)
                       for w in ("query", "key", "value"))
            a = torch.softmax(q @ k.transpose(-1, -2) / (d // h) ** 0.5, -1) @ v
            t = t + lin(f"{base}.attention.output.dense", a.transpose(1, 2).reshape(b, n, d))
            y = ln(f"{base}.layernorm_after", t)
            t = t + lin(f"{base}.output.dense", F.gelu(lin(f"{base}.intermediate.dense", y)))
        last = ln("layernorm", t)
        return {"last_hidden_state": last, "pooler_output": torch.tanh(lin("pooler.dense", last[:, 0]))}
    return run


def main(kind, folder):
    g = torch.Generator().manual_seed(13)
    params = random_params(shapes(VIT), 51)
    inputs = {"pixel_values": torch.randn(3, 4, 8, 8, generator=g)}
    targets = {"pooler_output": torch.randn(3, VIT["hidden_size"], generator=g)}
    write_fixture(folder, VIT, params, inputs, forward(VIT), targets)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
