#!/usr/bin/python3
# tests/test-tokenizer.py: CLIP's tokenizer (CxrTokenizer) against an
# independent Python reading of the Hugging Face CLIPTokenizer algorithm,
# on a small vocabulary and merge list learnt here from a corpus (no real
# tokenizer files are available offline: the README says where they come
# from), plus hand-checked cases for each rule.
import json
import os
import re
import struct
import tempfile
import unicodedata

from taplib import check, finish, need_cxr

Cxr, GLib = need_cxr()

SPECIAL = ["<|startoftext|>", "<|endoftext|>"]


def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


BYTES = bytes_to_unicode()


def category(c):
    cat = unicodedata.category(c)
    if cat.startswith("L"):
        return "L"
    if cat.startswith("N"):
        return "N"
    if c.isspace():
        return "S"
    return "P"


def clean(text):
    text = unicodedata.normalize("NFC", text)
    return re.sub(r"\s+", " ", text).strip().lower()


def pieces(text):
    """CLIP's pattern: specials, contractions, letters+, one number, other+."""
    out, i = [], 0
    while i < len(text):
        special = next((s for s in SPECIAL if text.startswith(s, i)), None)
        if special:
            out.append(special)
            i += len(special)
            continue
        c = text[i]
        if c.isspace():
            i += 1
            continue
        m = re.match(r"'s|'t|'re|'ve|'m|'ll|'d", text[i:])
        if m:
            out.append(m.group(0))
            i += len(m.group(0))
            continue
        kind = category(c)
        j = i + 1
        if kind == "L":
            while j < len(text) and category(text[j]) == "L":
                j += 1
        elif kind == "P":
            while j < len(text) and category(text[j]) == "P" and not any(text.startswith(s, j) for s in SPECIAL):
                j += 1
        out.append(text[i:j])
        i = j
    return out


def bpe(piece, ranks):
    word = [BYTES[b] for b in piece.encode()]
    word[-1] += "</w>"
    while len(word) > 1:
        pairs = [(ranks.get((a, b), 1e9), k) for k, (a, b) in enumerate(zip(word, word[1:]))]
        rank, _ = min(pairs)
        if rank == 1e9:
            break
        first, second = next((word[k], word[k + 1]) for r, k in pairs if r == rank)
        new, k = [], 0
        while k < len(word):
            if k < len(word) - 1 and word[k] == first and word[k + 1] == second:
                new.append(first + second)
                k += 2
            else:
                new.append(word[k])
                k += 1
        word = new
    return word


def reference_tokens(text, ranks):
    out = []
    for p in pieces(clean(text)):
        out += [p] if p in SPECIAL else bpe(p, ranks)
    return out


def learn(corpus, n_merges):
    """A small BPE vocabulary: byte symbols, then the most frequent pairs."""
    words = {}
    for text in corpus:
        for p in pieces(clean(text)):
            if p in SPECIAL:
                continue
            w = tuple([BYTES[b] for b in p.encode()][:-1] + [BYTES[p.encode()[-1]] + "</w>"])
            words[w] = words.get(w, 0) + 1
    merges = []
    for _ in range(n_merges):
        counts = {}
        for w, n in words.items():
            for pair in zip(w, w[1:]):
                counts[pair] = counts.get(pair, 0) + n
        if not counts:
            break
        best = max(sorted(counts), key=lambda p: counts[p])
        merges.append(best)
        new_words = {}
        for w, n in words.items():
            out, k = [], 0
            while k < len(w):
                if k < len(w) - 1 and (w[k], w[k + 1]) == best:
                    out.append(w[k] + w[k + 1])
                    k += 2
                else:
                    out.append(w[k])
                    k += 1
            new_words[tuple(out)] = new_words.get(tuple(out), 0) + n
        words = new_words
    vocab = list(BYTES.values()) + [c + "</w>" for c in BYTES.values()]
    vocab += [a + b for a, b in merges]
    vocab += SPECIAL
    return {t: i for i, t in enumerate(dict.fromkeys(vocab))}, merges


CORPUS = [
    "A chest X ray image with cardiomegaly and pleural effusion",
    "A chest X ray image, without pneumothorax and edema, and with uncertain atelectasis",
    "FINDINGS: The lungs are clear. There is no pleural effusion or pneumothorax.",
    "IMPRESSION: No acute cardiopulmonary process.",
    "Heart size is mildly enlarged; it's stable since 2019-03-04.",
    "Support devices: ET tube 4.5 cm above the carina; NG tube in the stomach.",
    "Can't exclude a small left effusion vs. atelectasis!!",
    "They're here, we've seen it, I'm sure, you'll see, he'd know.",
]
TESTS = CORPUS + [
    "  Multiple   spaces\tand\ttabs\nand new\r\nlines  ",
    "UPPER CASE AND MiXeD cAsE",
    "numbers 12345 and 3.14159 and ½ and ²",
    "punctuation ... !!! ?? -- (parentheses) [brackets] {braces}",
    "naïve café, Ångström, résumé, über",
    "unicode: 肺 胸部 x線, Ελληνικά, русский, עברית",
    "emoji \U0001F600 and symbols \u2713 \u00a9",
    "apostrophes: it's, IT'S, rock'n'roll, 'quoted', dogs'",
    "<|startoftext|>inside<|endoftext|> and !<|endoftext|>!",
    "combining e\u0301 (NFC makes it é)",
    "",
]

with tempfile.TemporaryDirectory() as tmp:
    vocab, merges = learn(CORPUS, 150)
    ranks = {pair: i for i, pair in enumerate(merges)}
    with open(f"{tmp}/vocab.json", "w") as fp:
        json.dump(vocab, fp, ensure_ascii=False)
    with open(f"{tmp}/merges.txt", "w") as fp:
        fp.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))

    tok = Cxr.Tokenizer.new_clip_from_folder(tmp)
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    check("the special tokens are read from the vocabulary", tok.get_bos_id() == bos and tok.get_eos_id() == eos and
          tok.get_pad_id() == eos, f"{tok.get_bos_id()} {tok.get_eos_id()}")

    bad = []
    for text in TESTS:
        want = reference_tokens(text, ranks)
        got = list(tok.tokenize(text))
        if got != want:
            bad.append(f"{text!r}: {got} != {want}")
    check(f"tokens match the reference algorithm on {len(TESTS)} varied texts", not bad, "\n".join(bad[:5]))

    bad = []
    for text in TESTS:
        want = [bos] + [vocab[t] for t in reference_tokens(text, ranks)][:75] + [eos]
        got = list(tok.encode(text))
        if got != want:
            bad.append(f"{text!r}: {got} != {want}")
    check("ids: start token, the tokens' ids, end token", not bad, "\n".join(bad[:5]))

    # the rules, one by one
    check("white space collapses and case folds", list(tok.tokenize("  A\t\tChest  ")) == bpe("a", ranks) + bpe("chest", ranks))
    check("contractions split off", list(tok.tokenize("it's")) == bpe("it", ranks) + bpe("'s", ranks),
          str(list(tok.tokenize("it's"))))
    check("each digit is a piece", list(tok.tokenize("2024")) == ["2</w>", "0</w>", "2</w>", "4</w>"],
          str(list(tok.tokenize("2024"))))
    check("a run of punctuation is one piece", list(tok.tokenize("?!")) == bpe("?!", ranks), str(list(tok.tokenize("?!"))))
    check("bytes map to printable characters (é is Ã©)", "".join(tok.tokenize("é")) == "Ã©</w>",
          str(list(tok.tokenize("é"))))
    check("a special token inside text is one token", list(tok.encode("a<|endoftext|>b"))[2] == eos)
    check("merges apply lowest rank first", list(tok.tokenize("chest")) == bpe("chest", ranks) and
          len(bpe("chest", ranks)) < 5, str(list(tok.tokenize("chest"))))

    long_text = " ".join(["effusion"] * 200)
    ids = list(tok.encode(long_text))
    check("encodings are truncated to 77 ids, start and end kept", len(ids) == 77 and ids[0] == bos and ids[-1] == eos,
          str(len(ids)))

    batch, mask = tok.encode_batch(["a chest", "a chest x ray image with cardiomegaly"], 0)
    shape = list(batch.get_shape())
    data = struct.unpack(f"<{shape[0] * shape[1]}q", batch.to_bytes().get_data())
    mdata = struct.unpack(f"<{shape[0] * shape[1]}q", mask.to_bytes().get_data())
    short = list(tok.encode("a chest"))
    longer = list(tok.encode("a chest x ray image with cardiomegaly"))
    check("a batch pads to its longest prompt with the end token", shape == [2, len(longer)] and
          list(data[:shape[1]]) == short + [eos] * (shape[1] - len(short)), f"{shape} {data}")
    check("... and its mask marks the padding", list(mdata[:shape[1]]) == [1] * len(short) + [0] * (shape[1] - len(short)),
          str(mdata))
    batch77, _ = tok.encode_batch(["a chest"], 77)
    check("or pads to a given length (77, as SD's pipeline does)", list(batch77.get_shape()) == [1, 77])

    text = "a chest x ray image with cardiomegaly"
    check("decode gives the text back", tok.decode(tok.encode(text), True) == text, tok.decode(tok.encode(text), True))

    # malformed files are errors that name the file
    with open(f"{tmp}/bad-merges.txt", "w") as fp:
        fp.write("#version: 0.2\na b c\n")
    try:
        Cxr.Tokenizer.new_clip(f"{tmp}/vocab.json", f"{tmp}/bad-merges.txt")
        check("a malformed merges file is an error", False)
    except GLib.Error as e:
        check("a malformed merges file is an error with its line", "bad-merges.txt:2" in e.message, e.message)
    with open(f"{tmp}/no-specials.json", "w") as fp:
        json.dump({"a": 0}, fp)
    try:
        Cxr.Tokenizer.new_clip(f"{tmp}/no-specials.json", f"{tmp}/merges.txt")
        check("a vocabulary without the special tokens is an error", False)
    except GLib.Error as e:
        check("a vocabulary without the special tokens is an error", "<|startoftext|>" in e.message, e.message)

finish()
