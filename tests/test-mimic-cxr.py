#!/usr/bin/python3
# tests/test-mimic-cxr.py: mimic-cxr-source reads the MIMIC-CXR-JPG layout
# (here the phantom dataset's, which is the same): labels, reports and their
# sections, the selection properties, shuffling, the paper's reference-image
# rule, gzip'd CSVs, on-error, and a round trip through mimic-cxr-writer.
import csv
import gzip
import os
import re
import shutil
import subprocess
import tempfile

from taplib import check, finish

OBS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
       "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion", "Lung Opacity",
       "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
       "Pneumothorax", "Support Devices"]


def read_csv(path):
    with open(path, newline="") as fp:
        return list(csv.DictReader(fp))


def run(tmp, root, keys, columns="id,view,split,labels", out="out.csv", sink="csv-sink"):
    """Runs mimic-cxr-source with KEYS into a CSV; returns (process, rows)."""
    lines = ["[stage src]", "type=mimic-cxr-source", f"root={root}"] + [f"{k}={v}" for k, v in keys.items()]
    if sink == "csv-sink":
        lines += ["", "[stage out]", "type=csv-sink", "input=src", f"path={tmp}/{out}", f"columns={columns}"]
    else:
        lines += ["", "[stage out]", "type=mimic-cxr-writer", "input=src", f"root={tmp}/{out}"]
    path = f"{tmp}/read.pipeline"
    with open(path, "w") as fp:
        fp.write("\n".join(lines) + "\n")
    p = subprocess.run(["cxrgen", "run", path, "--progress", "none"], capture_output=True, text=True)
    rows = read_csv(f"{tmp}/{out}") if p.returncode == 0 and sink == "csv-sink" else []
    return p, rows


def section(text, name):
    """The reference's reading of a MIMIC report section, for comparison."""
    m = re.search(rf"^\s*{name}:(.*?)(?=^\s*[A-Z][A-Z /&-]{{2,}}:|\Z)", text, re.S | re.M)
    return " ".join(m.group(1).split()) if m else ""


with tempfile.TemporaryDirectory() as tmp:
    root = f"{tmp}/phantom"
    p = subprocess.run(["cxrgen", "phantom", "--count", "200", "--out", root, "--seed", "5", "--size", "32"],
                       capture_output=True, text=True)
    check("a 200-study phantom", p.returncode == 0, p.stderr)
    meta = read_csv(f"{root}/mimic-cxr-2.0.0-metadata.csv")
    labels = {(r["subject_id"], r["study_id"]): r for r in read_csv(f"{root}/mimic-cxr-2.0.0-chexpert.csv")}
    split = {r["dicom_id"]: r["split"] for r in read_csv(f"{root}/mimic-cxr-2.0.0-split.csv")}

    p, rows = run(tmp, root, {"split": "any", "image-size": 0, "label-encoding": "chexpert"},
                  "id,subject,study,labels,report,findings,impression,reference,path")
    check("reads every image (split=any)", p.returncode == 0 and len(rows) == len(meta), p.stderr)
    check("in metadata order", [r["id"] for r in rows] == [r["dicom_id"] for r in meta])

    def as_chexpert(v):
        return "" if v == "" else f"{float(v):.1f}"
    check("labels as the chexpert CSV (label-encoding=chexpert)",
          all([as_chexpert(r[o]) for o in OBS] == [labels[(r["subject"], r["study"])][o] for o in OBS] for r in rows))
    reports_ok = sections_ok = True
    for r in rows:
        s = r["subject"]
        with open(f"{root}/files/p{s[:2]}/p{s}/s{r['study']}.txt") as fp:
            text = fp.read()
        reports_ok &= r["report"] == text
        sections_ok &= r["findings"] == section(text, "FINDINGS") and r["impression"] == section(text, "IMPRESSION")
    check("report is the whole text", reports_ok)
    check("findings and impression are those sections", sections_ok and rows[0]["findings"] != "")
    check("path names the image", all(os.path.isfile(r["path"]) and r["path"].endswith(r["id"] + ".jpg") for r in rows))

    # The paper's rule: the first training image with the same label vector.
    first = {}
    for m in meta:
        key = tuple(labels[(m["subject_id"], m["study_id"])][o] for o in OBS)
        if split[m["dicom_id"]] == "train":
            first.setdefault(key, m["dicom_id"])
    want = [first.get(tuple(labels[(r["subject"], r["study"])][o] for o in OBS), "") for r in rows]
    check("reference: the first training image with the same label vector", [r["reference"] for r in rows] == want)
    shared = sum(1 for r, w in zip(rows, want) if w not in ("", r["id"]))
    check(f"some samples share another's reference ({shared})", shared > 0)

    p, ref = run(tmp, root, {"split": "any", "image-size": 0, "label-encoding": "reference"})
    enc = {"1.0": "1", "0.0": "-1", "-1.0": "-2", "": "0"}
    check("label-encoding=reference gives the paper's 1/-1/-2/0",
          p.returncode == 0 and all([r[o] for o in OBS] == [enc[labels[(m["subject_id"], m["study_id"])][o]] for o in OBS]
                                    for r, m in zip(ref, meta)), p.stderr)

    # Selection
    p, test = run(tmp, root, {"split": "test", "image-size": 0})
    check("split=test reads the test split",
          p.returncode == 0 and sorted(r["id"] for r in test) == sorted(d for d, s in split.items() if s == "test")
          and len(test) > 0, p.stderr)
    p, train = run(tmp, root, {"image-size": 0})
    check("split defaults to train", p.returncode == 0 and {r["split"] for r in train} == {"train"})
    p, pa = run(tmp, root, {"split": "any", "view": "PA", "image-size": 0})
    check("view=PA", p.returncode == 0 and len(pa) == sum(m["ViewPosition"] == "PA" for m in meta)
          and {r["view"] for r in pa} == {"PA"})
    p, some = run(tmp, root, {"split": "any", "subjects": "p10-p12,p15", "image-size": 0}, "id,subject")
    check("subjects=p10-p12,p15", p.returncode == 0 and len(some) > 0 and {r["subject"][:2] for r in some} <= {"10", "11", "12", "15"}
          and len(some) == sum(m["subject_id"][:2] in ("10", "11", "12", "15") for m in meta))
    p, lim = run(tmp, root, {"split": "any", "limit": 7, "image-size": 0})
    check("limit=7", p.returncode == 0 and [r["id"] for r in lim] == [m["dicom_id"] for m in meta[:7]])
    p, e2 = run(tmp, root, {"split": "any", "limit": 20, "image-size": 0, "epochs": 2, "shuffle": "true", "seed": 3})
    ids = [r["id"] for r in e2]
    first20 = sorted(m["dicom_id"] for m in meta[:20])
    check("epochs=2, shuffled: each epoch a permutation, the two differ",
          p.returncode == 0 and len(ids) == 40 and sorted(ids[:20]) == first20 == sorted(ids[20:])
          and ids[:20] != ids[20:], p.stderr)
    p, again = run(tmp, root, {"split": "any", "limit": 20, "image-size": 0, "epochs": 2, "shuffle": "true", "seed": 3})
    p, other = run(tmp, root, {"split": "any", "limit": 20, "image-size": 0, "epochs": 2, "shuffle": "true", "seed": 4})
    check("same seed, same order; another seed, another", [r["id"] for r in again] == ids and [r["id"] for r in other] != ids)

    # gzip'd CSVs, as PhysioNet ships them
    gz = f"{tmp}/gz"
    shutil.copytree(root, gz)
    for name in ("metadata", "chexpert", "split"):
        plain = f"{gz}/mimic-cxr-2.0.0-{name}.csv"
        with open(plain, "rb") as a, gzip.open(plain + ".gz", "wb") as b:
            b.write(a.read())
        os.unlink(plain)
    p, zrows = run(tmp, gz, {"split": "any", "image-size": 0, "label-encoding": "chexpert"}, out="gz.csv")
    p0, prows = run(tmp, root, {"split": "any", "image-size": 0, "label-encoding": "chexpert"}, out="plain.csv")
    check("gzip'd CSVs read the same", p.returncode == 0 and zrows == prows and len(zrows) == 200, p.stderr)

    # Bad input
    broken = f"{tmp}/broken"
    shutil.copytree(root, broken)
    victim = meta[3]
    s = victim["subject_id"]
    os.unlink(f"{broken}/files/p{s[:2]}/p{s}/s{victim['study_id']}.txt")
    p, _ = run(tmp, broken, {"split": "any", "image-size": 0})
    check("a missing report fails the run and names the file",
          p.returncode == 1 and f"s{victim['study_id']}.txt" in p.stderr and not os.path.exists(f"{tmp}/out.csv.tmp"),
          p.stderr)
    p, skipped = run(tmp, broken, {"split": "any", "image-size": 0, "on-error": "skip"})
    check("on-error=skip leaves it out with a warning and a count",
          p.returncode == 0 and len(skipped) == 199 and "1 samples were skipped" in p.stderr, p.stderr)
    shutil.copy(f"{root}/files/p{s[:2]}/p{s}/s{victim['study_id']}.txt", f"{broken}/files/p{s[:2]}/p{s}/")
    victim = meta[5]
    s = victim["subject_id"]
    with open(f"{broken}/files/p{s[:2]}/p{s}/s{victim['study_id']}/{victim['dicom_id']}.jpg", "r+b") as fp:
        fp.truncate(200)
    p, _ = run(tmp, broken, {"split": "any", "image-size": 32, "on-error": "fail"})
    check("a truncated JPEG fails the run and names it", p.returncode == 1 and victim["dicom_id"] + ".jpg" in p.stderr,
          p.stderr)
    with open(f"{broken}/mimic-cxr-2.0.0-chexpert.csv") as fp:
        lines = fp.read().splitlines()
    lines[4] = lines[4].split(",", 2)[0] + "," + lines[4].split(",", 2)[1] + ",maybe" + "," * 13
    with open(f"{broken}/mimic-cxr-2.0.0-chexpert.csv", "w") as fp:
        fp.write("\n".join(lines) + "\n")
    p, _ = run(tmp, broken, {"split": "any", "image-size": 0})
    check("a bad label names the file and line",
          p.returncode == 1 and "mimic-cxr-2.0.0-chexpert.csv:5: column Atelectasis" in p.stderr, p.stderr)
    shutil.copy(f"{root}/mimic-cxr-2.0.0-chexpert.csv", broken)
    with open(f"{broken}/mimic-cxr-2.0.0-split.csv", "w") as fp:
        fp.write("".join(l.replace(",split", ",partition", 1) for l in open(f"{root}/mimic-cxr-2.0.0-split.csv")))
    p, _ = run(tmp, broken, {"split": "any", "image-size": 0})
    check("a CSV without a needed column names the file and the column",
          p.returncode == 1 and 'mimic-cxr-2.0.0-split.csv: no column "split"' in p.stderr, p.stderr)
    os.unlink(f"{broken}/mimic-cxr-2.0.0-split.csv")
    p, _ = run(tmp, broken, {"split": "any", "image-size": 0})
    check("a missing CSV names it", p.returncode == 1 and "mimic-cxr-2.0.0-split.csv" in p.stderr, p.stderr)
    p, _ = run(tmp, root, {"split": "training", "image-size": 0})
    check("a bad split value is refused", p.returncode != 0 and "training" in p.stderr, p.stderr)
    p, _ = run(tmp, root, {"subjects": "10-18", "image-size": 0})
    check("a bad subjects value is refused", p.returncode != 0 and "10-18" in p.stderr, p.stderr)

    # cxrgen data check
    p = subprocess.run(["cxrgen", "data", "check", root], capture_output=True, text=True)
    check("data check: a sound tree, exit 0", p.returncode == 0 and p.stdout == "" and "0 problems" in p.stderr, p.stderr)
    bad = f"{tmp}/bad"
    shutil.copytree(root, bad)
    m1, m2, m3 = meta[10], meta[11], meta[12]
    s1, s2, s3 = m1["subject_id"], m2["subject_id"], m3["subject_id"]
    jpg1 = f"{bad}/files/p{s1[:2]}/p{s1}/s{m1['study_id']}/{m1['dicom_id']}.jpg"
    with open(jpg1, "r+b") as fp:   # cut in the middle of the scan
        fp.truncate(os.path.getsize(jpg1) * 6 // 10)
    os.unlink(f"{bad}/files/p{s2[:2]}/p{s2}/s{m2['study_id']}/{m2['dicom_id']}.jpg")
    report3 = f"{bad}/files/p{s3[:2]}/p{s3}/s{m3['study_id']}.txt"
    with open(report3, "wb") as fp:
        fp.write(b"FINDINGS: \xff\xfe not text\n")
    with open(f"{bad}/mimic-cxr-2.0.0-split.csv") as fp:
        split_lines = fp.read().splitlines()
    with open(f"{bad}/mimic-cxr-2.0.0-split.csv", "w") as fp:
        fp.write("\n".join(l for l in split_lines if not l.startswith(meta[20]["dicom_id"])) + "\n")
    p = subprocess.run(["cxrgen", "data", "check", bad], capture_output=True, text=True)
    found = p.stdout.splitlines()
    check("data check: exit 1 and one line per problem", p.returncode == 1 and len(found) == 4, p.stdout + p.stderr)
    check("data check: a truncated JPEG, by path", any(jpg1 in l and "Premature end" in l for l in found), p.stdout)
    check("data check: a missing image, by path", any(m2["dicom_id"] + ".jpg" in l for l in found), p.stdout)
    check("data check: a report that is not text, by path", any(report3 in l and "UTF-8" in l for l in found), p.stdout)
    check("data check: an image without a split, by file and line",
          any(f"metadata.csv:22: image {meta[20]['dicom_id']} is not in the split file" in l for l in found), p.stdout)
    p = subprocess.run(["cxrgen", "data", "check", bad, "--quick"], capture_output=True, text=True)
    check("data check --quick: finds the missing image, decodes none",
          p.returncode == 1 and len(p.stdout.splitlines()) == 3 and "Premature" not in p.stdout, p.stdout)

    # Round trip: read with images, write the layout again.
    p, _ = run(tmp, root, {"split": "any", "image-size": 32}, sink="mimic-cxr-writer", out="copy")
    check("mimic-cxr-source into mimic-cxr-writer", p.returncode == 0, p.stderr)
    same_csv = all(open(f"{root}/mimic-cxr-2.0.0-{n}.csv").read() == open(f"{tmp}/copy/mimic-cxr-2.0.0-{n}.csv").read()
                   for n in ("metadata", "chexpert", "split")) if p.returncode == 0 else False
    check("the round trip keeps the three CSVs byte for byte (labels through the reference encoding)", same_csv)
    try:
        import numpy as np
        from PIL import Image
    except ImportError as e:
        check(f"# SKIP the image round trip: {e}", True)
        finish()
    worst = 0.0
    for m in meta[:40]:
        s = m["subject_id"]
        rel = f"files/p{s[:2]}/p{s}/s{m['study_id']}/{m['dicom_id']}.jpg"
        a = np.asarray(Image.open(f"{root}/{rel}").convert("L"), dtype=np.float64) / 255
        b = np.asarray(Image.open(f"{tmp}/copy/{rel}").convert("L"), dtype=np.float64) / 255
        worst = max(worst, float(np.abs(a - b).mean()))
    check(f"images survive the round trip (JPEG re-encoding: mean abs difference {worst:.4f} < 0.01)", worst < 0.01)
finish()
