#!/usr/bin/python3
# examples/prompts.py: build the label-prompts pipeline in Python and run it.
#
#   tests/run-uninstalled /usr/bin/python3 examples/prompts.py LABELS.csv OUT.csv
#
# Every stage is made by its type name and configured through the same
# properties a pipeline file sets; events arrive as JSON lines.
import json
import sys

import gi

gi.require_version("Cxr", "1.0")
from gi.repository import Cxr  # noqa: E402


def build(labels_csv, out_csv):
    registry = Cxr.Registry.get_default()
    pipeline = Cxr.Pipeline.new()

    labels = registry.make_stage("csv-source", "labels")
    labels.props.path = labels_csv
    labels.props.id_column = "study_id"
    labels.props.batch_size = 8

    prompt = registry.make_stage("label-prompt", "prompt")
    prompt.props.encoding = Cxr.LabelEncoding.CHEXPERT

    sink = registry.make_stage("csv-sink", "prompts")
    sink.props.path = out_csv
    sink.props.columns = ["id", "prompt"]

    for stage in (labels, prompt, sink):
        pipeline.add_stage(stage)
    pipeline.link("labels", "prompt")
    pipeline.link("prompt", "prompts")
    return pipeline


def run(pipeline, on_event=None):
    scheduler = Cxr.Scheduler.new(pipeline)
    scheduler.props.progress = Cxr.ProgressMode.NONE
    if on_event is not None:
        scheduler.connect("event", lambda _s, line: on_event(json.loads(line)))
    scheduler.run(None)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: prompts.py LABELS.csv OUT.csv")
    run(build(sys.argv[1], sys.argv[2]),
        lambda e: e["event"] == "done" and print(f"{e['samples']} prompts in {e['seconds']:.3f} s"))
