#!/usr/bin/python3
# tests/test-python.py: cxrgen from Python through GObject Introspection: a
# pipeline built in code gives the same prompts as the pipeline file, which
# are checked against the prompt rule written here independently.
import csv
import math
import os
import sys
import tempfile

from taplib import check, finish, need_cxr


Cxr, GLib = need_cxr()

src = os.environ["CXRGEN_TEST_SRCDIR"]
sys.path.insert(0, os.path.join(src, "examples"))
import prompts  # noqa: E402  (examples/prompts.py)

OBSERVATIONS = ["atelectasis", "cardiomegaly", "consolidation", "edema",
                "enlarged cardiomediastinum", "fracture", "lung lesion", "lung opacity",
                "no finding", "pleural effusion", "pleural other", "pneumonia",
                "pneumothorax", "support devices"]


def expected_prompt(values, positive, negative, uncertain):
    """The CXR-IRGen prompt rule, written independently of the C code."""
    pos = [o for o, v in zip(OBSERVATIONS, values) if v == positive]
    neg = [o for o, v in zip(OBSERVATIONS, values) if v == negative]
    unc = [o for o, v in zip(OBSERVATIONS, values) if v == uncertain]
    text = "A chest X ray image"
    if pos:
        text += " with " + " and ".join(pos)
    if neg:
        text += ", without " + " and ".join(neg)
    if unc:
        text += ", and with uncertain " + " and ".join(unc)
    return text


labels_csv = os.path.join(src, "pipelines", "data", "example-labels.csv")
with open(labels_csv, newline="") as f:
    rows = list(csv.DictReader(f))
names = list(Cxr.labels_get_observations())
expected = {}
for row in rows:
    values = [float(row[n]) if row[n] != "" else math.nan for n in names]
    expected[row["study_id"]] = expected_prompt(values, 1.0, 0.0, -1.0)

registry = Cxr.Registry.get_default()
stages = registry.list_stages()
check("the registry lists label-prompt, csv-source, csv-sink",
      {"label-prompt", "csv-source", "csv-sink"} <= set(stages), stages)
check("observation names come from the library", len(names) == 14 and names[13] == "Support Devices")

with tempfile.TemporaryDirectory() as tmp:
    out_code = os.path.join(tmp, "code.csv")
    events = []
    prompts.run(prompts.build(labels_csv, out_code), events.append)
    with open(out_code, newline="") as f:
        got = {r["id"]: r["prompt"] for r in csv.DictReader(f)}
    check("a pipeline built in Python writes one prompt per study", len(got) == len(rows))
    check("every prompt follows the CXR-IRGen rule", got == expected,
          "\n".join(f"{k}: {got.get(k)!r} != {v!r}" for k, v in expected.items() if got.get(k) != v))
    check("events: start first, done last with status ok",
          events[0]["event"] == "start" and events[-1]["event"] == "done" and events[-1]["status"] == "ok")
    check("events: progress counts every sample",
          any(e["event"] == "progress" and e["samples"] == len(rows) and e["total"] == len(rows)
              for e in events))

    # The same pipeline from its file gives the same bytes.
    pipeline = Cxr.Pipeline.new_from_file(os.path.join(src, "pipelines", "label-prompts.pipeline"),
                                          [f"OUT={tmp}"])
    prompts.run(pipeline)
    with open(os.path.join(tmp, "prompts.csv"), "rb") as a, open(out_code, "rb") as b:
        check("the file pipeline and the Python pipeline agree byte for byte", a.read() == b.read())
    with open(os.path.join(src, "tests", "data", "prompts-expected.csv"), "rb") as a, \
            open(out_code, "rb") as b:
        check("and match tests/data/prompts-expected.csv", a.read() == b.read())

# The mapping as a function.
values = [math.nan] * 14
values[1], values[9], values[3] = 1.0, -1.0, -2.0
check("labels_to_prompt with the reference encoding",
      Cxr.labels_to_prompt(values, Cxr.LabelEncoding.REFERENCE)
      == expected_prompt(values, 1.0, -1.0, -2.0)
      == "A chest X ray image with cardiomegaly, without pleural effusion, and with uncertain edema")

# A stage as a function, through the harness.
stage = registry.make_stage("label-prompt", None)
batch = Cxr.Batch.new(1)
batch.set_floats("labels", 14, values)
harness = Cxr.Harness.new(stage)
harness.prepare()
harness.push(0, batch)
out, port = harness.pull()
check("the harness runs one stage", out.get_string("prompt", 0).startswith("A chest X ray image with cardiomegaly"))
harness.finish()

# Errors arrive as GLib.Error with the pipeline domain and FILE:LINE text.
try:
    Cxr.Pipeline.new_from_data("[stage a]\ntype=label-promt\n", "py.pipeline", None)
    check("a bad pipeline raises", False)
except GLib.Error as e:
    check("a bad pipeline raises GLib.Error in the pipeline domain",
          e.domain == "cxr-pipeline-error-quark" and e.message.startswith("py.pipeline:2: stage a: key type:"),
          e.message)
p = Cxr.Pipeline.new()
p.add_stage(registry.make_stage("label-prompt", "lonely"))
try:
    Cxr.Scheduler.new(p).run(None)
    check("a pipeline with an unlinked input does not run", False)
except GLib.Error as e:
    check("a pipeline with an unlinked input does not run", "missing" in e.message, e.message)

finish()
