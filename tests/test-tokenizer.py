#!/usr/bin/python3
# tests/test-tokenizer.py: CLIP's tokenizer (CxrTokenizer) against an
# independent Python reading of the Hugging Face CLIPTokenizer algorithm
# (tests/reference/clip_tokenizer.py),
# on a small vocabulary and merge list learnt here from a corpus (no real
# tokenizer files are available offline: the README says where they come
# from), plus hand-checked cases for each rule.
import json
import os
import struct
import sys
import tempfile

from taplib import check, finish, need_cxr

Cxr, GLib = need_cxr()
sys.path.insert(0, os.path.join(os.environ.get("CXRGEN_TEST_SRCDIR", "."), "tests", "reference"))
from clip_tokenizer import (SPECIAL, bpe, gpt2_tokens, learn, learn_byte_level, reference_tokens,  # noqa: E402
                            write_files)

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
    write_files(tmp, vocab, merges)

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
    with open(f"{tmp}/sparse.json", "w") as fp:
        json.dump({"<|startoftext|>": 0, "<|endoftext|>": 2147483000}, fp)
    try:
        Cxr.Tokenizer.new_clip(f"{tmp}/sparse.json", f"{tmp}/merges.txt")
        check("an id beyond the vocabulary's size is an error (no table grows to it)", False)
    except GLib.Error as e:
        check("an id beyond the vocabulary's size is an error (no table grows to it)",
              "2147483000" not in e.message and "<|endoftext|>" in e.message and "[0, 2)" in e.message, e.message)
    with open(f"{tmp}/no-specials.json", "w") as fp:
        json.dump({"a": 0}, fp)
    try:
        Cxr.Tokenizer.new_clip(f"{tmp}/no-specials.json", f"{tmp}/merges.txt")
        check("a vocabulary without the special tokens is an error", False)
    except GLib.Error as e:
        check("a vocabulary without the special tokens is an error", "<|startoftext|>" in e.message, e.message)

    # BART's byte-level scheme (GPT-2's), on a vocabulary learnt here
    bart_corpus = [t for t in TESTS if t] + ["FINDINGS:\n  The heart is normal.\n\nIMPRESSION: No acute process. "]
    os.makedirs(f"{tmp}/bart")
    bvocab, bmerges = learn_byte_level(bart_corpus, 200)
    branks = {pair: i for i, pair in enumerate(bmerges)}
    write_files(f"{tmp}/bart", bvocab, bmerges)
    bt = Cxr.Tokenizer.new_bart_from_folder(f"{tmp}/bart")
    bad = []
    for text in bart_corpus + ["  leading and trailing  ", "tabs\tand\nnew lines\n\n", "'s 's'S", "x  <mask> y</s>"]:
        want = gpt2_tokens(text, branks)
        got = list(bt.tokenize(text))
        if got != want:
            bad.append(f"{text!r}: {got} != {want}")
    check("byte-level tokens match GPT-2's algorithm (no normalisation, spaces kept on the words)", not bad,
          "\n".join(bad[:5]))
    ids = list(bt.encode("The heart is normal."))
    check("BART encodings are <s> ... </s>", ids[0] == bvocab["<s>"] and ids[-1] == bvocab["</s>"] and
          bt.get_pad_id() == bvocab["<pad>"], str(ids))
    bad = [t for t in bart_corpus if bt.decode(bt.encode(t), True) != t]
    check("decode(encode(text)) == text, byte for byte, for any text", not bad, str(bad[:3]))
    check("BART's maximum length is 1024", bt.get_max_length() == 1024)
    try:
        Cxr.Tokenizer.new_bart(f"{tmp}/vocab.json", f"{tmp}/merges.txt")
        check("a vocabulary without <s> is no BART vocabulary", False)
    except GLib.Error as e:
        check("a vocabulary without <s> is no BART vocabulary", "<s>" in e.message, e.message)

finish()
