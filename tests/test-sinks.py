#!/usr/bin/python3
# tests/test-sinks.py: image-sink, report-sink and pairs-manifest, after
# mimic-cxr-source and label-prompt on the phantom dataset: the files are
# the samples' (PIL reads the images back), the manifest is valid JSON lines
# with the weights' SHA-256 (hashlib's), names that would escape the folder
# are refused, and a run that fails leaves no manifest and no temporary file.
import hashlib
import json
import os
import shutil
import subprocess
import tempfile

from taplib import check, finish


def run(tmp, text, name="p.pipeline"):
    path = f"{tmp}/{name}"
    with open(path, "w") as fp:
        fp.write(text)
    return subprocess.run(["cxrgen", "run", path, "--progress", "none"], capture_output=True, text=True)


def pipeline(root, out, weights, image_format="png", bits=16, extra_source=""):
    return f"""
[stage src]
type=mimic-cxr-source
root={root}
split=any
image-size=32
batch-size=4
{extra_source}

[stage prompt]
type=label-prompt
input=src

[stage images]
type=image-sink
input=prompt
folder={out}/images
format={image_format}
bits={bits}

[stage reports]
type=report-sink
input=images
folder={out}/reports

[stage manifest]
type=pairs-manifest
input=reports
path={out}/pairs.jsonl
weights={weights}
"""


def temporaries(folder):
    return [f for _, _, files in os.walk(folder) for f in files if f.startswith(".") or ".tmp" in f]


with tempfile.TemporaryDirectory() as tmp:
    root = f"{tmp}/phantom"
    p = subprocess.run(["cxrgen", "phantom", "--count", "20", "--out", root, "--seed", "9", "--size", "32"],
                       capture_output=True, text=True)
    check("a 20-study phantom", p.returncode == 0, p.stderr)
    weights = f"{tmp}/unet.safetensors"
    with open(weights, "wb") as fp:
        fp.write(os.urandom(4096))
    want_sum = hashlib.sha256(open(weights, "rb").read()).hexdigest()

    out = f"{tmp}/out"
    p = run(tmp, pipeline(root, out, weights))
    check("source, prompt, image-sink, report-sink, pairs-manifest run", p.returncode == 0, p.stderr)
    lines = open(f"{out}/pairs.jsonl").read().splitlines() if p.returncode == 0 else []
    records = [json.loads(line) for line in lines]
    check("one JSON object per sample", len(records) == 20)
    check("each record has id, image, report-path, report, prompt, labels, label-encoding, weights, generator",
          all({"id", "image", "report-path", "report", "prompt", "labels", "label-encoding", "weights", "generator"}
              <= set(r) for r in records))
    check("the weights' SHA-256 is hashlib's",
          all(r["weights"] == {"unet.safetensors": f"sha256:{want_sum}"} for r in records))
    check("prompts are the paper's", all(r["prompt"].startswith("A chest X ray image") for r in records))

    meta = {m["dicom_id"]: m for m in __import__("csv").DictReader(open(f"{root}/mimic-cxr-2.0.0-metadata.csv"))}
    reports_ok = True
    for r in records:
        m = meta[r["id"]]
        s = m["subject_id"]
        text = open(f"{root}/files/p{s[:2]}/p{s}/s{m['study_id']}.txt").read()
        reports_ok &= open(r["report-path"]).read() == text + "\n" and r["report"] == text
    check("each report file is the study's report", reports_ok)
    check("files are named by id", all(os.path.basename(r["image"]) == r["id"] + ".png" for r in records))
    check("no temporary file is left", temporaries(out) == [])
    try:
        import numpy as np
        from PIL import Image
        worst = 0.0
        for r in records:
            m = meta[r["id"]]
            s = m["subject_id"]
            ours = np.asarray(Image.open(r["image"]), dtype=np.float64) / 65535
            src = np.asarray(Image.open(f"{root}/files/p{s[:2]}/p{s}/s{m['study_id']}/{r['id']}.jpg").convert("L"),
                             dtype=np.float64) / 255
            worst = max(worst, float(np.abs(ours - src).max()))
        mode = Image.open(records[0]["image"]).mode
        check(f"16-bit PNGs hold the source pixels (max difference {worst * 255:.3f}/255, mode {mode})",
              worst <= 0.5 / 255 and mode in ("I;16", "I"))
    except ImportError as e:
        check(f"# SKIP the pixel check: {e}", True)

    p = run(tmp, pipeline(root, f"{tmp}/tif", weights, "tiff", 0))
    tifs = sorted(os.listdir(f"{tmp}/tif/images")) if p.returncode == 0 else []
    check("format=tiff writes .tif files", len(tifs) == 20 and all(t.endswith(".tif") for t in tifs), p.stderr)
    p = run(tmp, pipeline(root, f"{tmp}/dcm", weights, "dicom", 0))
    dcms = sorted(os.listdir(f"{tmp}/dcm/images")) if p.returncode == 0 else []
    try:
        import pydicom
        first = pydicom.dcmread(f"{tmp}/dcm/images/{dcms[0]}") if dcms else None
        check("format=dicom writes 16-bit secondary captures",
              len(dcms) == 20 and first is not None and first.BitsStored == 16 and first.ConversionType == "SYN",
              p.stderr)
        # reports as Basic Text SR, referencing those images
        sr_pipeline = pipeline(root, f"{tmp}/sr", weights, "dicom", 0).replace(
            "[stage reports]\ntype=report-sink\ninput=images\n", "[stage reports]\ntype=report-sink\ninput=images\nformat=dicom-sr\n")
        p = run(tmp, sr_pipeline)
        recs = [json.loads(line) for line in open(f"{tmp}/sr/pairs.jsonl")] if p.returncode == 0 else []
        check("report-sink format=dicom-sr runs", len(recs) == 20 and all(r["report-path"].endswith(".dcm") for r in recs),
              p.stderr)
        good = bool(recs)
        for r in recs[:5]:
            sr = pydicom.dcmread(r["report-path"])
            image = pydicom.dcmread(r["image"])
            items = sr.ContentSequence
            texts = [i.TextValue for i in items if i.ValueType == "TEXT"]
            refs = [i.ReferencedSOPSequence[0].ReferencedSOPInstanceUID for i in items if i.ValueType == "IMAGE"]
            good &= (sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.11" and texts == [r["report"]]
                     and refs == [image.SOPInstanceUID] and sr.StudyInstanceUID == image.StudyInstanceUID
                     and sr.SOPInstanceUID.startswith("2.25.") and str(sr.PatientName) == ""
                     and sr.ConceptNameCodeSequence[0].CodeValue == "18748-4")
        check("each SR holds its report and references its image, in the image's study", good)
    except ImportError as e:
        check(f"# SKIP reading the DICOM output: {e}", True)
    p = run(tmp, pipeline(root, f"{tmp}/j16", weights, "jpeg", 16))
    check("JPEG at 16 bits is refused, and why", p.returncode != 0 and "JPEG is 8 bits" in p.stderr, p.stderr)
    p = run(tmp, pipeline(root, f"{tmp}/gif", weights, "gif", 8))
    check("an unknown format is refused by name", p.returncode != 0 and '"gif"' in p.stderr, p.stderr)

    # A name that would leave the folder
    with open(f"{tmp}/evil.csv", "w") as fp:
        fp.write('id,report\nok,"fine"\n../escape,"no"\n')
    p = run(tmp, f"""
[stage src]
type=csv-source
path={tmp}/evil.csv
columns=report=report
label-columns=

[stage reports]
type=report-sink
input=src
folder={tmp}/evil
""")
    check("a name with a folder in it is refused", p.returncode == 1 and "../escape" in p.stderr
          and not os.path.exists(f"{tmp}/escape.txt"), p.stderr)

    # A run that fails half-way leaves no manifest
    broken = f"{tmp}/broken"
    shutil.copytree(root, broken)
    victim = sorted(meta.values(), key=lambda m: list(meta).index(m["dicom_id"]))[13]
    s = victim["subject_id"]
    os.unlink(f"{broken}/files/p{s[:2]}/p{s}/s{victim['study_id']}.txt")
    p = run(tmp, pipeline(broken, f"{tmp}/half", weights))
    check("a failing run fails", p.returncode == 1, p.stderr)
    check("and leaves no manifest and no temporary file",
          not os.path.exists(f"{tmp}/half/pairs.jsonl") and temporaries(f"{tmp}/half") == [],
          str(temporaries(f"{tmp}/half")))
finish()
