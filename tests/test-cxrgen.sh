#!/bin/sh
# tests/test-cxrgen.sh: the cxrgen command as a user runs it: every
# subcommand, exit codes, messages for bad files, SIGINT, and the schema
# checked into schemas/ (which fails when stale: run `make update-schema`).
. "$CXRGEN_TEST_SRCDIR/tests/tap.sh"
src=$CXRGEN_TEST_SRCDIR
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

code () { "$@" >"$tmp/out" 2>"$tmp/err"; echo $?; }

check "--version names the version" sh -c 'cxrgen --version | grep -q "^cxrgen [0-9]"'
check "--help lists the commands" sh -c 'cxrgen --help | grep -q "validate FILE"'
for cmd in run validate inspect schema; do
  check "$cmd --help" sh -c "cxrgen $cmd --help | grep -q 'Usage:'"
done
check "no command: usage, exit 2" test "$(code cxrgen)" = 2
check "unknown command: exit 2" test "$(code cxrgen frobnicate)" = 2

check "inspect lists the stages" sh -c 'cxrgen inspect | grep -q "prompt:  label-prompt: Label prompt"'
check "inspect label-prompt shows ports and properties" sh -c \
  'cxrgen inspect label-prompt > "$0/i" && grep -q "input  in       needs: labels" "$0/i" && grep -q "Enum, one of: reference, chexpert. Default: reference" "$0/i"' "$tmp"
check "inspect a plugin" sh -c 'cxrgen inspect table | grep -q "csv-sink"'
check "inspect marks optional inputs" sh -c 'cxrgen inspect classifier-train | grep -q "input  validate needs: image, labels (optional)"'
check "inspect an unknown type: exit 3" test "$(code cxrgen inspect label-promt)" = 3

check "validate the main pipeline" sh -c "cxrgen validate '$src/pipelines/label-prompts.pipeline' | grep -q 'valid: 3 stages, 0 models'"
check "validate a typo: exit 2" test "$(code cxrgen validate "$src/tests/data/bad/unknown-key.pipeline")" = 2
check "validate a typo: FILE:LINE: stage: key: suggestion" grep -qF \
  "tests/data/bad/unknown-key.pipeline:9: stage prompt: key encodng: no such key; did you mean \"encoding\"?" "$tmp/err"
check "validate a cycle: exit 2" test "$(code cxrgen validate "$src/tests/data/bad/cycle.pipeline")" = 2
check "validate a cycle: the stages named" grep -qF "the stages form a cycle: a -> b -> a" "$tmp/err"
check "validate a value out of range: exit 2" test "$(code cxrgen validate "$src/tests/data/bad/out-of-range.pipeline")" = 2
check "validate a value out of range: the range" grep -qF "out-of-range.pipeline:4: stage labels: key batch-size: value 0 is out of range: must be between 1 and 1048576" "$tmp/err"
check "validate a missing file: exit 2" test "$(code cxrgen validate "$tmp/nope.pipeline")" = 2

check "run the main pipeline" test "$(code cxrgen run "$src/pipelines/label-prompts.pipeline" --set OUT="$tmp/run" --events "$tmp/events.jsonl")" = 0
check "its prompts are the expected ones" cmp "$tmp/run/prompts.csv" "$src/tests/data/prompts-expected.csv"
check "its events end with done" sh -c "tail -n 1 '$tmp/events.jsonl' | grep -q '\"event\":\"done\",.*\"status\":\"ok\"'"
check "--set a stage key" test "$(code cxrgen run "$src/pipelines/label-prompts.pipeline" --set OUT="$tmp/run2" --set prompt.encoding=reference)" = 0
check "reference encoding: -1 is negative, 0 not mentioned" grep -qF \
  '50000003,"A chest X ray image with atelectasis and lung opacity and pleural effusion and support devices, without edema"' "$tmp/run2/prompts.csv"
check "a failing run: exit 1" test "$(code cxrgen run "$src/pipelines/label-prompts.pipeline" --set OUT="$tmp/run3" --set LABELS="$src/tests/data/labels-bad.csv")" = 1
check "a failing run names the file and line" grep -qF "labels-bad.csv:4: column Edema: \"x\" is not a number" "$tmp/err"
check "a failing run leaves no output" test ! -e "$tmp/run3/prompts.csv"
check "--progress takes auto, bar or none" test "$(code cxrgen run "$src/pipelines/label-prompts.pipeline" --progress sometimes)" = 2

# SIGINT: a clean stop, exit 130, no half-written file.
mkdir -p "$tmp/int"
cxrgen run "$src/tests/data/prompts.pipeline" --set OUT="$tmp/int" --progress none 2>"$tmp/int.err" &
pid=$!
sleep 1
kill -INT $pid
wait $pid
check "SIGINT: exit 130" test $? = 130
check "SIGINT: says it stops" grep -q "stopping the stages" "$tmp/int.err"
check "SIGINT: no output file, no temporary file" test -z "$(ls -A "$tmp/int")"

# cxrgen weights: a file written to the published format, then a broken one.
/usr/bin/python3 - "$tmp" <<'PY'
import json, struct, sys
header = json.dumps({"__metadata__": {"format": "pt"},
                     "conv.weight": {"dtype": "F16", "shape": [2, 1, 3, 3], "data_offsets": [0, 36]},
                     "conv.bias": {"dtype": "F32", "shape": [2], "data_offsets": [36, 44]}}).encode()
open(sys.argv[1] + "/w.safetensors", "wb").write(struct.pack("<Q", len(header)) + header + bytes(44))
header = b'{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'
open(sys.argv[1] + "/short.safetensors", "wb").write(struct.pack("<Q", len(header)) + header + bytes(8))
PY
check "weights lists a valid file" test "$(code cxrgen weights "$tmp/w.safetensors")" = 0
check "weights: name, dtype, shape, count" grep -qE "^conv.weight +F16 +\[2, 1, 3, 3\] +18$" "$tmp/out"
check "weights: the totals" grep -qF "w.safetensors: 2 tensors, 20 parameters, 44 bytes of data" "$tmp/out"
check "weights: the metadata" grep -qF "metadata format = pt" "$tmp/out"
check "weights: a truncated file exits 1" test "$(code cxrgen weights "$tmp/short.safetensors")" = 1
check "weights: says which tensor and what is wrong" grep -qF \
  "short.safetensors: tensor w: data_offsets [0, 16] run past the end of the data (8 bytes)" "$tmp/err"

# label and metrics: usage and bad input.
check "label without -o: exit 2" test "$(code cxrgen label "$src/pipelines/data/chexpert/sample_reports.csv")" = 2
check "metrics without a kind: exit 2" test "$(code cxrgen metrics)" = 2
check "metrics fid of a folder of images without --model: exit 1" test "$(code cxrgen metrics fid --real "$tmp" --fake "$tmp")" = 1
check "metrics fid of a folder says what is missing" grep -q "needs a feature extractor: --model" "$tmp/err"
check "metrics f1 of a CSV without the observations: exit 1" \
  test "$(code cxrgen metrics f1 --pred "$src/tests/data/prompts-expected.csv" --ref "$src/tests/data/prompts-expected.csv")" = 1
check "metrics f1 names the missing column" grep -qF 'prompts-expected.csv: the header has no column "Atelectasis"' "$tmp/err"

# The schema of the plugins of this tree, as checked in.
CXRGEN_PLUGIN_PATH="$CXRGEN_TEST_BUILDDIR/plugins" cxrgen schema > "$tmp/schema.json"
if cmp -s "$tmp/schema.json" "$src/schemas/pipeline.schema.json"; then
  ok "schemas/pipeline.schema.json is current"
else
  diff -u "$src/schemas/pipeline.schema.json" "$tmp/schema.json" | head -20 | sed 's/^/# /'
  not_ok "schemas/pipeline.schema.json is stale: run make update-schema"
fi
check "the schema is JSON" /usr/bin/python3 -c "import json,sys; json.load(open(sys.argv[1]))" "$tmp/schema.json"

tap_done
