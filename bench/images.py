#!/usr/bin/python3
# bench/images.py: decoding and preprocessing full-size MIMIC-like JPEGs
# (2500x3000, 8-bit) to 256x256, cxrgen (DCT-scaled decode, PIL's bilinear
# resize) against the reference path (PIL open + convert("RGB") + resize +
# ToTensor + Normalize, written with numpy) in the same run: the reference
# in this process and on THREADS worker processes (a DataLoader's
# num_workers), cxrgen one image after another on one thread and as
# mimic-cxr-source loads a training run on THREADS threads.
# Run with bench/run-images.
import multiprocessing
import os
import shutil
import subprocess
import tempfile
import time

import gi

gi.require_version("Cxr", "1.0")
from gi.repository import Cxr  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

THREADS = int(os.environ.get("CXRGEN_THREADS", "2"))
Cxr.set_num_threads(THREADS)
src = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "nih", "00000001_000.png")
N = int(os.environ.get("BENCH_IMAGES", "12"))

with tempfile.TemporaryDirectory() as tmp:
    base = Image.open(src).resize((2500, 3000), Image.BICUBIC)
    noise = np.random.default_rng(0).normal(0, 4, size=(3000, 2500))
    paths = []
    for i in range(N):
        a = np.clip(np.asarray(base, dtype=np.float64) + noise * (1 + i % 3), 0, 255).astype(np.uint8)
        p = f"{tmp}/{i}.jpg"
        Image.fromarray(a).save(p, quality=95)
        paths.append(p)

    def reference(p):
        im = Image.open(p).convert("RGB").resize((256, 256), Image.BILINEAR)
        a = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
        return (a - 0.5) / 0.5

    def ours(p, min_size=256):
        return Cxr.Image.load(p, min_size).preprocess(256, 3)

    with multiprocessing.get_context("fork").Pool(THREADS) as pool:
        pool.map(reference, paths[:THREADS])  # warm-up
        t0 = time.perf_counter()
        pool.map(reference, paths, chunksize=1)
        t_ref_workers = time.perf_counter() - t0

    for fn in (reference, ours):  # warm-up
        fn(paths[0])
    t0 = time.perf_counter()
    for p in paths:
        reference(p)
    t_ref = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in paths:
        ours(p)
    t_ours = time.perf_counter() - t0
    t0 = time.perf_counter()
    for p in paths:
        ours(p, 0)
    t_full = time.perf_counter() - t0
    # libjpeg's own 1/8 decode, in a process of its own (the choice is read
    # once per process)
    libjpeg_run = ("import gi, sys, time; gi.require_version('Cxr', '1.0'); from gi.repository import Cxr; "
                   "ps = sys.argv[1:]; Cxr.Image.load(ps[0], 256).preprocess(256, 3); t0 = time.perf_counter(); "
                   "[Cxr.Image.load(p, 256).preprocess(256, 3) for p in ps]; print(time.perf_counter() - t0)")
    t_libjpeg = float(subprocess.run(["/usr/bin/python3", "-c", libjpeg_run] + paths, check=True, capture_output=True,
                                     text=True, env=dict(os.environ, CXRGEN_JPEG="libjpeg")).stdout)
    print(f"{N} JPEGs of 2500x3000 to 3x256x256, {THREADS} threads:")
    print(f"  reference (PIL + numpy), 1 process:  {N / t_ref:6.1f} images/s")
    print(f"  reference on {THREADS} worker processes:    {N / t_ref_workers:6.1f} images/s")
    print(f"  cxrgen, DCT-scaled decode, 1 thread: {N / t_ours:6.1f} images/s  ({t_ref / t_ours:.1f}x the reference's "
          f"process)")
    print(f"  cxrgen, libjpeg's 1/8, 1 thread:     {N / t_libjpeg:6.1f} images/s  ({t_ref / t_libjpeg:.1f}x; "
          f"CXRGEN_JPEG=libjpeg)")
    print(f"  cxrgen, full decode, 1 thread:       {N / t_full:6.1f} images/s  ({t_ref / t_full:.1f}x)")

    # The loading stage as training runs it: mimic-cxr-source decoding a
    # batch's images on THREADS threads, in a pipeline of its own process.
    root = f"{tmp}/mimic"
    obs = ("Atelectasis,Cardiomegaly,Consolidation,Edema,Enlarged Cardiomediastinum,Fracture,Lung Lesion,"
           "Lung Opacity,No Finding,Pleural Effusion,Pleural Other,Pneumonia,Pneumothorax,Support Devices")
    meta, labels, split = ["dicom_id,subject_id,study_id,ViewPosition"], [f"subject_id,study_id,{obs}"], \
        ["dicom_id,study_id,subject_id,split"]
    for i, p in enumerate(paths):
        study = f"{root}/files/p10/p10000000/s5000000{i:02d}"
        os.makedirs(study)
        shutil.copy(p, f"{study}/img{i}.jpg")
        with open(f"{study}.txt", "w") as fp:
            fp.write("FINDINGS: None.\n")
        meta.append(f"img{i},10000000,5000000{i:02d},PA")
        labels.append(f"10000000,5000000{i:02d}" + ",1.0" + "," * 13)
        split.append(f"img{i},5000000{i:02d},10000000,train")
    for name, rows in (("metadata", meta), ("chexpert", labels), ("split", split)):
        with open(f"{root}/mimic-cxr-2.0.0-{name}.csv", "w") as fp:
            fp.write("\n".join(rows) + "\n")
    env = dict(os.environ, OMP_NUM_THREADS=str(THREADS))

    def load_run(limit):
        with open(f"{tmp}/load.pipeline", "w") as fp:
            fp.write(f"[stage src]\ntype=mimic-cxr-source\nroot={root}\nimage-size=256\nbatch-size=8\n"
                     f"limit={limit}\n\n[stage out]\ntype=csv-sink\ninput=src\npath={tmp}/ids.csv\ncolumns=id\n")
        t0 = time.perf_counter()
        subprocess.run(["cxrgen", "run", f"{tmp}/load.pipeline", "--progress", "none"], check=True, env=env)
        return time.perf_counter() - t0

    load_run(1)  # warm-up
    # the best of three, and the start-up (a run of one image) left out
    t_stage = min(load_run(N) for _ in range(3))
    t_start = min(load_run(1) for _ in range(3))
    print(f"  mimic-cxr-source, whole run:         {N / t_stage:6.1f} images/s  ({t_ref / t_stage:.1f}x the reference's "
          f"process, {t_ref_workers / t_stage:.1f}x its {THREADS} workers)")
    print(f"  mimic-cxr-source, after start-up:    {(N - 1) / (t_stage - t_start):6.1f} images/s  "
          f"({(N - 1) / N * t_ref / (t_stage - t_start):.1f}x, "
          f"{(N - 1) / N * t_ref_workers / (t_stage - t_start):.1f}x; start-up {t_start * 1000:.0f} ms)")
