# tests/reference/bart.py: BartForConditionalGeneration in plain PyTorch,
# written from the architecture with transformers' parameter names, in a
# tiny configuration, to make fixtures for `cxrgen model run` (common.py).
#   /usr/bin/python3 tests/reference/bart.py tied|aliases|decoder|autoencoder|autoencoder-eos DIR
# "aliases" writes the tied embeddings as the copies some files hold
# (encoder/decoder embed_tokens, lm_head) instead of model.shared.weight.
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from common import random_params, write_fixture  # noqa: E402

BART = {"architectures": ["BartForConditionalGeneration"], "model_type": "bart", "activation_function": "gelu",
        "d_model": 16, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
        "decoder_attention_heads": 2, "encoder_ffn_dim": 32, "decoder_ffn_dim": 24, "max_position_embeddings": 20,
        "vocab_size": 40, "pad_token_id": 1, "bos_token_id": 0, "eos_token_id": 2, "decoder_start_token_id": 2,
        "scale_embedding": False, "dropout": 0.1, "attention_dropout": 0.0, "activation_dropout": 0.0,
        "init_std": 0.02, "encoder_layerdrop": 0.0, "decoder_layerdrop": 0.0, "classifier_dropout": 0.0,
        "num_hidden_layers": 2, "use_cache": True, "is_encoder_decoder": True, "forced_eos_token_id": 2}


def shapes(cfg):
    d, v = cfg["d_model"], cfg["vocab_size"]
    s = {"model.shared.weight": (v, d), "final_logits_bias": (1, v)}
    for side, layers, ffn in (("encoder", cfg["encoder_layers"], cfg["encoder_ffn_dim"]),
                              ("decoder", cfg["decoder_layers"], cfg["decoder_ffn_dim"])):
        s[f"model.{side}.embed_positions.weight"] = (cfg["max_position_embeddings"] + 2, d)
        s[f"model.{side}.layernorm_embedding.weight"] = (d,)
        s[f"model.{side}.layernorm_embedding.bias"] = (d,)
        for i in range(layers):
            base = f"model.{side}.layers.{i}"
            attns = ["self_attn"] + (["encoder_attn"] if side == "decoder" else [])
            for a in attns:
                for p in ("q_proj", "k_proj", "v_proj", "out_proj"):
                    s[f"{base}.{a}.{p}.weight"] = (d, d)
                    s[f"{base}.{a}.{p}.bias"] = (d,)
                s[f"{base}.{a}_layer_norm.weight"] = (d,)
                s[f"{base}.{a}_layer_norm.bias"] = (d,)
            s[f"{base}.fc1.weight"] = (ffn, d)
            s[f"{base}.fc1.bias"] = (ffn,)
            s[f"{base}.fc2.weight"] = (d, ffn)
            s[f"{base}.fc2.bias"] = (d,)
            s[f"{base}.final_layer_norm.weight"] = (d,)
            s[f"{base}.final_layer_norm.bias"] = (d,)
    return s


def ln(p, name, x):
    return F.layer_norm(x, x.shape[-1:], p[f"{name}.weight"], p[f"{name}.bias"], 1e-5)


def lin(p, name, x):
    return F.linear(x, p[f"{name}.weight"], p[f"{name}.bias"])


def attention(p, name, x, kv, heads, key_mask, causal):
    b, n, d = x.shape
    m = kv.shape[1]
    q = lin(p, f"{name}.q_proj", x) * (d // heads) ** -0.5
    k, v = lin(p, f"{name}.k_proj", kv), lin(p, f"{name}.v_proj", kv)
    q, k, v = (t.reshape(b, -1, heads, d // heads).transpose(1, 2) for t in (q, k, v))
    bias = torch.zeros(b, 1, n, m, dtype=x.dtype)
    if causal:
        bias = bias.masked_fill(torch.ones(n, m, dtype=torch.bool).triu(1), float("-inf"))
    if key_mask is not None:
        bias = bias.masked_fill(key_mask[:, None, None, :] == 0, float("-inf"))
    a = torch.softmax(q @ k.transpose(-1, -2) + bias, -1) @ v
    return lin(p, f"{name}.out_proj", a.transpose(1, 2).reshape(b, n, d))


def embed(p, side, ids):
    n = ids.shape[1]
    x = p["model.shared.weight"][ids] + p[f"model.{side}.embed_positions.weight"][2:n + 2]
    return ln(p, f"model.{side}.layernorm_embedding", x)


def forward(cfg, pooling=None):
    def run(p, inputs):
        ids, mask = inputs["input_ids"], inputs.get("attention_mask")
        dec = inputs.get("decoder_input_ids")
        if dec is None:
            dec = torch.cat([torch.full_like(ids[:, :1], cfg["decoder_start_token_id"]), ids[:, :-1]], 1)
        dmask = inputs.get("decoder_attention_mask")
        h = embed(p, "encoder", ids)
        for i in range(cfg["encoder_layers"]):
            base = f"model.encoder.layers.{i}"
            h = ln(p, f"{base}.self_attn_layer_norm", h + attention(p, f"{base}.self_attn", h, h,
                                                                     cfg["encoder_attention_heads"], mask, False))
            h = ln(p, f"{base}.final_layer_norm", h + lin(p, f"{base}.fc2", F.gelu(lin(p, f"{base}.fc1", h))))
        enc = h
        cross, cross_mask = enc, mask
        if pooling:
            m = mask.double() if mask is not None else torch.ones(ids.shape, dtype=enc.dtype)
            if pooling == "mean":
                pooled = (enc * m[..., None]).sum(1) / m.sum(1, keepdim=True)
            else:
                at = torch.zeros(ids.shape[0], dtype=torch.long) if pooling == "bos" else \
                    (m * torch.arange(ids.shape[1])).argmax(1)
                pooled = enc[torch.arange(ids.shape[0]), at]
            cross, cross_mask = pooled[:, None], None
        h = embed(p, "decoder", dec)
        for i in range(cfg["decoder_layers"]):
            base = f"model.decoder.layers.{i}"
            heads = cfg["decoder_attention_heads"]
            h = ln(p, f"{base}.self_attn_layer_norm", h + attention(p, f"{base}.self_attn", h, h, heads, dmask, True))
            h = ln(p, f"{base}.encoder_attn_layer_norm", h + attention(p, f"{base}.encoder_attn", h, cross, heads,
                                                                        cross_mask, False))
            h = ln(p, f"{base}.final_layer_norm", h + lin(p, f"{base}.fc2", F.gelu(lin(p, f"{base}.fc1", h))))
        logits = h @ p["model.shared.weight"].T + p["final_logits_bias"]
        if pooling:
            return {"logits": logits, "report_embedding": pooled}
        return {"logits": logits, "encoder_last_hidden_state": enc}
    return run


def main(kind, folder):
    g = torch.Generator().manual_seed(9)
    params = random_params(shapes(BART), 41)
    ids = torch.randint(3, BART["vocab_size"], (3, 7), generator=g)
    ids[:, 0] = 0
    ids[0, 6], ids[1, 4], ids[2, 6] = 2, 2, 2
    ids[1, 5:] = 1
    mask = (ids != 1).long()
    inputs = {"input_ids": ids, "attention_mask": mask}
    if kind == "decoder":
        dec = torch.randint(3, BART["vocab_size"], (3, 5), generator=g)
        inputs.update(decoder_input_ids=dec, decoder_attention_mask=torch.ones(3, 5, dtype=torch.long))
    targets = {"logits": torch.randn(3, inputs.get("decoder_input_ids", ids).shape[1], BART["vocab_size"], generator=g)}
    if kind in ("autoencoder", "autoencoder-eos"):
        pooling = "mean" if kind == "autoencoder" else "eos"
        cfg = dict(BART, **({} if pooling == "mean" else {}))
        targets["report_embedding"] = torch.randn(3, BART["d_model"], generator=g)
        write_fixture(folder, cfg, params, inputs, forward(BART, pooling), targets)
        return
    saved = dict(params)
    if kind == "aliases":
        shared = saved.pop("model.shared.weight")
        saved["model.encoder.embed_tokens.weight"] = shared
        saved["model.decoder.embed_tokens.weight"] = shared
        saved["lm_head.weight"] = shared
        targets = None
    write_fixture(folder, BART, params, inputs, forward(BART), targets, saved=saved)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
