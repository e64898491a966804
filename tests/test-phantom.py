#!/usr/bin/python3
# tests/test-phantom.py: the phantom dataset. Same seed, same bytes; the
# MIMIC-CXR-JPG layout and its three CSVs agree with each other; the reports
# say what the labels say (our CheXpert labeler reads them back); and the
# images carry the labels (a linear classifier on pixels beats chance,
# sklearn's logistic regression as the peer).
import csv
import hashlib
import os
import subprocess
import tempfile

from taplib import check, finish


OBS = ["Atelectasis", "Cardiomegaly", "Consolidation", "Edema",
       "Enlarged Cardiomediastinum", "Fracture", "Lung Lesion", "Lung Opacity",
       "No Finding", "Pleural Effusion", "Pleural Other", "Pneumonia",
       "Pneumothorax", "Support Devices"]


def phantom(out, count, seed, size=64):
    return subprocess.run(["cxrgen", "phantom", "--count", str(count), "--out", out,
                           "--seed", str(seed), "--size", str(size)],
                          capture_output=True, text=True)


def tree_digest(root):
    h = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for f in sorted(files):
            path = os.path.join(folder, f)
            h.update(os.path.relpath(path, root).encode())
            with open(path, "rb") as fp:
                h.update(fp.read())
    return h.hexdigest()


def read_csv(path):
    with open(path, newline="") as fp:
        return list(csv.DictReader(fp))


with tempfile.TemporaryDirectory() as tmp:
    a, b, c = f"{tmp}/a", f"{tmp}/b", f"{tmp}/c"
    ra = phantom(a, 60, 7)
    check("phantom exits 0", ra.returncode == 0, ra.stderr)
    phantom(b, 60, 7)
    phantom(c, 60, 8)
    check("same seed, same bytes", tree_digest(a) == tree_digest(b))
    check("another seed, other bytes", tree_digest(a) != tree_digest(c))
    src = os.environ["CXRGEN_TEST_SRCDIR"]
    rp = subprocess.run(["cxrgen", "run", f"{src}/pipelines/phantom.pipeline", "--set", "COUNT=60",
                         "--set", "SEED=7", "--set", "SIZE=64", "--set", f"OUT={tmp}/p"],
                        capture_output=True, text=True)
    check("pipelines/phantom.pipeline makes the same bytes as cxrgen phantom",
          rp.returncode == 0 and tree_digest(f"{tmp}/p/phantom") == tree_digest(a), rp.stderr)

    meta = read_csv(f"{a}/mimic-cxr-2.0.0-metadata.csv")
    labels = read_csv(f"{a}/mimic-cxr-2.0.0-chexpert.csv")
    split = read_csv(f"{a}/mimic-cxr-2.0.0-split.csv")
    check("one metadata row per study", len(meta) == 60, f"{len(meta)} rows")
    check("the chexpert CSV has the 14 observations in MIMIC's order",
          list(labels[0].keys()) == ["subject_id", "study_id"] + OBS)
    check("one label row per study", len(labels) == 60)
    check("split rows match metadata rows",
          [(r["dicom_id"], r["study_id"], r["subject_id"]) for r in split]
          == [(r["dicom_id"], r["study_id"], r["subject_id"]) for r in meta])
    check("splits are train, validate or test",
          {r["split"] for r in split} <= {"train", "validate", "test"} and "train" in {r["split"] for r in split})
    subjects = {}
    for r in split:
        subjects.setdefault(r["subject_id"], set()).add(r["split"])
    check("a subject never straddles two splits", all(len(s) == 1 for s in subjects.values()))

    missing = []
    for r in meta:
        s = r["subject_id"]
        study = f"{a}/files/p{s[:2]}/p{s}/s{r['study_id']}"
        if not os.path.isfile(f"{study}/{r['dicom_id']}.jpg") or not os.path.isfile(f"{study}.txt"):
            missing.append(study)
    check("every row has its image and its report", not missing, " ".join(missing[:3]))
    view_meaning = {"PA": "postero-anterior", "AP": "antero-posterior"}
    check("view position and view code agree",
          all(view_meaning[r["ViewPosition"]] == r["ViewCodeSequence_CodeMeaning"] for r in meta))

    # The labeler reads the reports back: its labels are the phantom's.
    reports_csv = f"{tmp}/reports.csv"
    with open(reports_csv, "w", newline="") as fp:
        w = csv.writer(fp)
        for r in labels:
            s = r["subject_id"]
            with open(f"{a}/files/p{s[:2]}/p{s}/s{r['study_id']}.txt") as t:
                w.writerow([t.read()])
    rl = subprocess.run(["cxrgen", "label", reports_csv, "-o", f"{tmp}/labeled.csv"],
                        capture_output=True, text=True)
    check("cxrgen label reads the reports", rl.returncode == 0, rl.stderr)
    agree = total = 0
    disagreements = []
    if rl.returncode == 0:
        for truth, got in zip(labels, read_csv(f"{tmp}/labeled.csv")):
            for o in OBS:
                total += 1
                if (truth[o] or "") == (got[o] or ""):
                    agree += 1
                elif len(disagreements) < 3:
                    disagreements.append(f"{o}: {truth[o]!r} vs {got[o]!r}")
    print(f"# labeler agreement {agree}/{total}")
    check("the labeler agrees with the phantom's labels (>= 98%)",
          total > 0 and agree / total >= 0.98, f"{agree}/{total}: " + "; ".join(disagreements))

    try:
        import numpy as np
        from PIL import Image
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import roc_auc_score
    except ImportError as e:
        check(f"# SKIP the image-learnability check: {e}", True)
        finish()

    # The images carry the findings: train on 240 studies, test on 120.
    d = f"{tmp}/learn"
    rd = phantom(d, 360, 11, 32)
    check("a 360-study phantom", rd.returncode == 0, rd.stderr)
    meta = read_csv(f"{d}/mimic-cxr-2.0.0-metadata.csv")
    labels = {r["study_id"]: r for r in read_csv(f"{d}/mimic-cxr-2.0.0-chexpert.csv")}
    x, y = [], {o: [] for o in ("Cardiomegaly", "Pleural Effusion", "Support Devices")}
    for r in meta:
        s = r["subject_id"]
        im = Image.open(f"{d}/files/p{s[:2]}/p{s}/s{r['study_id']}/{r['dicom_id']}.jpg").convert("L")
        x.append(np.asarray(im, dtype=np.float32).ravel() / 255.0)
        for o in y:
            y[o].append(1 if labels[r["study_id"]][o] == "1.0" else 0)
    x = np.stack(x)
    for o, target in y.items():
        target = np.array(target)
        if target[:240].min() == target[:240].max() or target[240:].min() == target[240:].max():
            check(f"{o}: both classes present", False)
            continue
        model = LogisticRegression(C=0.1, max_iter=2000).fit(x[:240], target[:240])
        auc = roc_auc_score(target[240:], model.predict_proba(x[240:])[:, 1])
        check(f"{o} is learnable from pixels (held-out AUROC {auc:.2f} > 0.7)", auc > 0.7, f"AUROC {auc:.3f}")
finish()
