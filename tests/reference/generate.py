# tests/reference/generate.py: report generation written from the
# algorithms, on tests/reference/bart.py's BART in float64, recomputing the
# whole prefix at every token (no cache): greedy, beam search as
# transformers ranks hypotheses (log-probability over length ** penalty,
# no early stopping), no-repeat n-grams (after the log-softmax, as
# transformers' logits processors); and BART's byte-level tokens to
# and from ids (tests/reference/clip_tokenizer.py's GPT-2 scheme).
import torch

import bart
from clip_tokenizer import BYTES, gpt2_tokens


def encode(texts, vocab, ranks):
    """<s> ids </s>, padded with <pad> (1); the ids and the mask."""
    rows = [[0] + [vocab[t] for t in gpt2_tokens(t, ranks)] + [2] for t in texts]
    n = max(len(r) for r in rows)
    ids = torch.tensor([r + [1] * (n - len(r)) for r in rows])
    return ids, (ids != 1).long()


def decode(ids, vocab):
    """Text of ids, special tokens dropped, bytes that are no UTF-8 replaced."""
    inverse, unbyte = {i: t for t, i in vocab.items()}, {c: b for b, c in BYTES.items()}
    text = "".join(inverse[i] for i in ids if i not in (0, 1, 2, 3) and inverse[i] != "<mask>")
    return bytes(unbyte[c] for c in text).decode("utf-8", errors="replace")


def embedding(cfg, p, ids, mask):
    return bart.forward(cfg, "mean")(p, {"input_ids": ids, "attention_mask": mask})["report_embedding"]


def decoder_logits(cfg, p, emb, seq):
    """Logits of the next token after seq (start token first), the decoder
    reading the one vector emb."""
    dec = torch.tensor([seq])
    h = bart.embed(p, "decoder", dec)
    cross = emb[None, None, :]
    for i in range(cfg["decoder_layers"]):
        base, heads = f"model.decoder.layers.{i}", cfg["decoder_attention_heads"]
        h = bart.ln(p, f"{base}.self_attn_layer_norm", h + bart.attention(p, f"{base}.self_attn", h, h, heads, None,
                                                                           True))
        h = bart.ln(p, f"{base}.encoder_attn_layer_norm", h + bart.attention(p, f"{base}.encoder_attn", h, cross,
                                                                              heads, None, False))
        h = bart.ln(p, f"{base}.final_layer_norm",
                    h + bart.lin(p, f"{base}.fc2", torch.nn.functional.gelu(bart.lin(p, f"{base}.fc1", h))))
    return (h @ p["model.shared.weight"].T + p["final_logits_bias"])[0, -1]


def banned(seq, n):
    """Tokens that would repeat an n-gram of seq."""
    if n == 0 or len(seq) + 1 < n:
        return set()
    tail = tuple(seq[len(seq) - n + 1:])
    return {seq[i + n - 1] for i in range(len(seq) - n + 1) if tuple(seq[i:i + n - 1]) == tail}


def log_probs(cfg, p, emb, seq, no_repeat):
    """The model's log-probabilities, then the banned tokens at -inf (as
    transformers applies its logits processors to the log-softmax)."""
    lp = torch.log_softmax(decoder_logits(cfg, p, emb, seq), -1)
    for t in banned(seq, no_repeat):
        lp[t] = float("-inf")
    return lp


def greedy(cfg, p, emb, max_length, no_repeat=0):
    seq, total = [cfg["decoder_start_token_id"]], 0.0
    for _ in range(max_length):
        lp = log_probs(cfg, p, emb, seq, no_repeat)
        tok = int(lp.argmax())
        total += float(lp[tok])
        if tok == cfg["eos_token_id"]:
            break
        seq.append(tok)
    return seq[1:], total


def beam(cfg, p, emb, k, max_length, penalty=1.0, no_repeat=0):
    eos = cfg["eos_token_id"]
    beams, finished = [([cfg["decoder_start_token_id"]], 0.0)], []
    for _ in range(max_length):
        cands, cur_len = [], len(beams[0][0])
        for b, (seq, score) in enumerate(beams):
            lp = log_probs(cfg, p, emb, seq, no_repeat)
            cands += [(score + float(lp[t]), b, t) for t in range(lp.shape[0]) if lp[t] != float("-inf")]
        cands.sort(key=lambda c: -c[0])
        nxt = []
        for rank, (s, b, t) in enumerate(cands[:2 * k]):
            seq = beams[b][0]
            if t == eos:
                if rank < k:
                    finished.append((s / len(seq) ** penalty, seq[1:], s))
                continue
            nxt.append((seq + [t], s))
            if len(nxt) == k:
                break
        beams = nxt
        if len(finished) >= k:
            # transformers' is_done: the best candidate over the length fed so far
            worst = sorted((f[0] for f in finished), reverse=True)[k - 1]
            if worst >= cands[0][0] / cur_len ** penalty:
                break
    else:
        finished += [(s / len(seq) ** penalty, seq[1:], s) for seq, s in beams]
    best = max(finished, key=lambda f: f[0])
    return best[1], best[2]
