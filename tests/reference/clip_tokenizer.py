# tests/reference/clip_tokenizer.py: an independent Python reading of the
# Hugging Face CLIPTokenizer algorithm (CLIPTokenizerFast's normaliser:
# NFC, white space collapsed, lower case; CLIP's split pattern; byte-level
# BPE with </w> word ends), and a small BPE vocabulary learnt from a
# corpus, for tests that need a tokenizer and its files.
import json
import re
import unicodedata

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


def merge_pair(word, pair):
    """The symbols of word with every occurrence of pair merged, left to right."""
    out, k = [], 0
    while k < len(word):
        if k < len(word) - 1 and (word[k], word[k + 1]) == pair:
            out.append(word[k] + word[k + 1])
            k += 2
        else:
            out.append(word[k])
            k += 1
    return out


def symbols(piece, word_end):
    """A piece's bytes as mapped characters, the last marked </w> for CLIP."""
    word = [BYTES[b] for b in piece.encode()]
    if word_end:
        word[-1] += "</w>"
    return word


def bpe(piece, ranks, word_end=True):
    """Merges in rank order, lowest first, until none applies."""
    word = symbols(piece, word_end)
    while len(word) > 1:
        pairs = [(ranks.get(pair, 1e9), pair) for pair in zip(word, word[1:])]
        rank, pair = min(pairs, key=lambda rp: rp[0])
        if rank == 1e9:
            break
        word = merge_pair(word, pair)
    return word


def reference_tokens(text, ranks):
    out = []
    for p in pieces(clean(text)):
        out += [p] if p in SPECIAL else bpe(p, ranks)
    return out


def learn_merges(words, n_merges):
    """The most frequent adjacent pair, merged everywhere, n_merges times
    over {symbols: count}."""
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
            merged = tuple(merge_pair(list(w), best))
            new_words[merged] = new_words.get(merged, 0) + n
        words = new_words
    return merges


def learn(corpus, n_merges):
    """A small CLIP vocabulary: byte symbols, with </w>, then the most
    frequent pairs."""
    words = {}
    for text in corpus:
        for p in pieces(clean(text)):
            if p not in SPECIAL:
                w = tuple(symbols(p, True))
                words[w] = words.get(w, 0) + 1
    merges = learn_merges(words, n_merges)
    vocab = list(BYTES.values()) + [c + "</w>" for c in BYTES.values()]
    vocab += [a + b for a, b in merges]
    vocab += SPECIAL
    return {t: i for i, t in enumerate(dict.fromkeys(vocab))}, merges


def write_files(folder, vocab, merges):
    """vocab.json and merges.txt as Hugging Face ships them."""
    with open(f"{folder}/vocab.json", "w") as fp:
        json.dump(vocab, fp, ensure_ascii=False)
    with open(f"{folder}/merges.txt", "w") as fp:
        fp.write("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))


def encode(text, vocab, ranks, max_length=77):
    ids = [vocab[t] for t in reference_tokens(text, ranks)][: max_length - 2]
    return [vocab[SPECIAL[0]]] + ids + [vocab[SPECIAL[1]]]


# ------------------------------------------------ GPT-2's byte-level scheme

BART_SPECIAL = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


def gpt2_pieces(text):
    """GPT-2's pattern, read independently:
    's|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+"""
    out, i = [], 0
    while i < len(text):
        special = next((s for s in BART_SPECIAL if text.startswith(s, i)), None)
        if special:
            out.append(special)
            i += len(special)
            continue
        m = re.match(r"'s|'t|'re|'ve|'m|'ll|'d", text[i:])
        if m:
            out.append(m.group(0))
            i += len(m.group(0))
            continue
        j = i + 1 if text[i] == " " and i + 1 < len(text) and not text[i + 1].isspace() else i
        if not text[j].isspace():
            kind = category(text[j])
            k = j + 1
            while k < len(text) and category(text[k]) == kind and not text[k].isspace() and \
                    not any(text.startswith(s, k) for s in BART_SPECIAL):
                k += 1
            out.append(text[i:k])
            i = k
            continue
        k = i
        while k < len(text) and text[k].isspace():
            k += 1
        if k < len(text) and k - i >= 2:
            k -= 1
        out.append(text[i:k])
        i = k
    return out


def gpt2_tokens(text, ranks):
    """Special tokens split out first (as transformers' added-token trie
    does; <mask>'s lstrip is not modelled), then each span's pieces."""
    out = []
    for span in re.split("(" + "|".join(re.escape(s) for s in BART_SPECIAL) + ")", text):
        if span in BART_SPECIAL:
            out.append(span)
        elif span:
            for p in gpt2_pieces(span):
                out += bpe(p, ranks, word_end=False)
    return out


def learn_byte_level(corpus, n_merges):
    """A small byte-level BPE vocabulary (no word-end marks), BART's
    special tokens first."""
    words = {}
    for text in corpus:
        for p in gpt2_pieces(text):
            w = tuple(symbols(p, False))
            words[w] = words.get(w, 0) + 1
    merges = learn_merges(words, n_merges)
    vocab = ["<s>", "<pad>", "</s>", "<unk>"] + list(BYTES.values()) + [a + b for a, b in merges] + ["<mask>"]
    return {t: i for i, t in enumerate(dict.fromkeys(vocab))}, merges
