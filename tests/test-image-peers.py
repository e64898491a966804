#!/usr/bin/python3
# tests/test-image-peers.py: decoding and the reference preprocessing
# against PIL (the reference code's path: Image.open(...).convert("RGB"),
# torchvision Resize((s, s)) = PIL's bilinear resize, CenterCrop, ToTensor,
# Normalize(0.5, 0.5)), on a real NIH radiograph and on synthetic images.
import os
import tempfile

from taplib import check, finish, need_cxr, skip


Cxr, GLib = need_cxr()
try:
    import numpy as np
    from PIL import Image
except ImportError as e:
    skip(f"a peer is missing: {e}")

src = os.environ["CXRGEN_TEST_SRCDIR"]
nih = f"{src}/tests/data/nih/00000001_000.png"


def pixels(image):
    t = image.to_tensor()
    return np.frombuffer(t.to_bytes().get_data(), dtype=np.float32).reshape(t.get_shape())[0]


def reference_preprocess(path, size):
    """The reference code's transform, written out with PIL and numpy."""
    im = Image.open(path).convert("RGB").resize((size, size), Image.BILINEAR)
    w, h = im.size
    top, left = int(round((h - size) / 2.0)), int(round((w - size) / 2.0))
    im = im.crop((left, top, left + size, top + size))
    a = np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0
    return (a - 0.5) / 0.5


with tempfile.TemporaryDirectory() as tmp:
    rng = np.random.default_rng(3)
    gray = Image.open(nih)
    a8 = np.asarray(gray)
    check("a real 8-bit PNG radiograph decodes as PIL decodes it", np.array_equal(np.round(pixels(Cxr.Image.load(nih, 0)) * 255), a8))

    # a smooth 16-bit image, as TIFF and PNG
    yy, xx = np.mgrid[0:300, 0:420]
    a16 = ((np.sin(xx / 37.0) + np.cos(yy / 23.0) + 2) / 4 * 65535).astype(np.uint16)
    Image.fromarray(a16).save(f"{tmp}/a16.tif")
    ours = pixels(Cxr.Image.load(f"{tmp}/a16.tif", 0))
    check("a 16-bit TIFF (written by PIL) decodes exactly", np.array_equal(np.round(ours * 65535).astype(np.uint16), a16))
    Image.fromarray(a8).save(f"{tmp}/a.jpg", quality=90)
    ours = pixels(Cxr.Image.load(f"{tmp}/a.jpg", 0))
    theirs = np.asarray(Image.open(f"{tmp}/a.jpg"))
    diff = np.abs(np.round(ours * 255) - theirs).max()
    check(f"a JPEG decodes as PIL's libjpeg decodes it (max difference {diff:.0f} levels <= 1)", diff <= 1)
    # a large noisy radiograph read for 256x256 training: cxrgen decodes it
    # at 1/8 with its own entropy decoder; PIL's draft mode asks libjpeg
    # for the same scale
    big = np.clip(np.asarray(gray.resize((2100, 2600), Image.BICUBIC), dtype=np.float64)
                  + rng.normal(0, 6, size=(2600, 2100)), 0, 255).astype(np.uint8)
    Image.fromarray(big).save(f"{tmp}/big.jpg", quality=95)
    ours = pixels(Cxr.Image.load(f"{tmp}/big.jpg", 256))
    im = Image.open(f"{tmp}/big.jpg")
    im.draft("L", (2100 // 8, 2600 // 8))
    theirs = np.asarray(im)
    check(f"a 2100x2600 JPEG read at 1/8 ({ours.shape[1]}x{ours.shape[0]}) has the samples of PIL's draft mode",
          ours.shape == theirs.shape and np.array_equal(np.round(ours * 255), theirs))
    rgb = rng.integers(0, 256, size=(40, 50, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(f"{tmp}/rgb.png")
    ours = pixels(Cxr.Image.load(f"{tmp}/rgb.png", 0))
    theirs = np.asarray(Image.open(f"{tmp}/rgb.png").convert("L"), dtype=np.float32)
    diff = np.abs(ours * 255 - theirs).max()
    check(f"colour converts to gray as PIL's convert('L') (max {diff:.2f} levels <= 0.51)", diff <= 0.51)

    for size in (256, 224, 100):
        ours_t = Cxr.Image.load(nih, 0).preprocess(size, 3)
        ours = np.frombuffer(ours_t.to_bytes().get_data(), dtype=np.float32).reshape(ours_t.get_shape())
        theirs = reference_preprocess(nih, size)
        diff = np.abs(ours - theirs).max() / 2  # in [0, 1] units
        check(f"preprocessing to {size} matches PIL + ToTensor + Normalize within 1/255 "
              f"(max {diff * 255:.2f}/255)", ours.shape == theirs.shape and diff <= 1 / 255 + 1e-6)
    # CLIP's transform (OpenAI's: Resize(224, BICUBIC), CenterCrop, ToTensor, Normalize)
    clip_mean = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)[:, None, None]
    clip_std = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)[:, None, None]
    for path, label in ((nih, "the NIH radiograph"), (f"{tmp}/odd.png", "a 53x37 image")):
        if not os.path.exists(path):
            Image.fromarray(rng.integers(0, 256, size=(37, 53), dtype=np.uint8)).save(path)
        im = Image.open(path).convert("RGB")
        w, h = im.size
        nw, nh = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
        im = im.resize((nw, nh), Image.BICUBIC)
        top, left = int(round((nh - 224) / 2.0)), int(round((nw - 224) / 2.0))
        im = im.crop((left, top, left + 224, top + 224))
        theirs = (np.asarray(im, dtype=np.float32).transpose(2, 0, 1) / 255.0 - clip_mean) / clip_std
        t = Cxr.Image.load(path, 0).preprocess_clip(224)
        ours = np.frombuffer(t.to_bytes().get_data(), dtype=np.float32).reshape(t.get_shape())
        diff = (np.abs(ours - theirs) * clip_std).max()
        check(f"CLIP preprocessing of {label} matches PIL bicubic + CLIP's normalisation within 1/255 "
              f"(max {diff * 255:.2f}/255)", ours.shape == theirs.shape and diff <= 1 / 255 + 1e-6)

    # upscaling and odd shapes
    odd = rng.integers(0, 256, size=(37, 53), dtype=np.uint8)
    Image.fromarray(odd).save(f"{tmp}/odd.png")
    ours_t = Cxr.Image.load(f"{tmp}/odd.png", 0).preprocess(64, 1)
    ours = np.frombuffer(ours_t.to_bytes().get_data(), dtype=np.float32).reshape(64, 64)
    theirs = reference_preprocess(f"{tmp}/odd.png", 64)[0]
    diff = np.abs(ours - theirs).max() / 2
    check(f"upscaling a noisy 53x37 image matches PIL within 1/255 (max {diff * 255:.2f}/255)", diff <= 1 / 255 + 1e-6)

finish()
