#!/usr/bin/python3
# tests/test-dicom.py: DICOM through the DCMTK shim, against the DICOM
# standard's transformations written out in numpy (PS3.3 C.11.1 modality
# LUT, C.11.2.1.2 the linear VOI window; MONOCHROME1 inverted) on files
# pydicom writes: 12-bit with rescale and window, MONOCHROME1, 8-bit, no
# window (the values' own range), an encapsulated baseline JPEG, and broken
# files, each an error that names the file.
import subprocess
import tempfile

from taplib import check, finish, need_cxr, skip

Cxr, GLib = need_cxr()
try:
    import numpy as np
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate
    from pydicom.uid import ExplicitVRLittleEndian, JPEGBaseline8Bit, generate_uid
    from PIL import Image
except ImportError as e:
    skip(f"a peer is missing: {e}")


def write_dicom(path, pixels, bits_stored, photometric="MONOCHROME2", slope=None, intercept=None,
                window=None, syntax=ExplicitVRLittleEndian, pixel_bytes=None, with_pixels=True):
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1.1"  # digital X-ray for presentation
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = syntax
    ds = Dataset()
    ds.file_meta = meta
    ds.is_little_endian = True
    ds.is_implicit_VR = False
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Modality = "DX"
    ds.Rows, ds.Columns = pixels.shape
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16 if bits_stored > 8 else 8
    ds.BitsStored = bits_stored
    ds.HighBit = bits_stored - 1
    ds.PixelRepresentation = 0
    if slope is not None:
        ds.RescaleSlope, ds.RescaleIntercept = slope, intercept
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if with_pixels:
        if pixel_bytes is not None:
            ds.PixelData = pixel_bytes
            ds["PixelData"].VR = "OB"
        else:
            ds.PixelData = pixels.astype(np.uint16 if bits_stored > 8 else np.uint8).tobytes()
    ds.save_as(path, write_like_original=False)


def linear_window(x, center, width, top):
    """PS3.3 C.11.2.1.2.1, output range [0, top]."""
    y = ((x - (center - 0.5)) / (width - 1) + 0.5) * top
    return np.clip(y, 0, top)


def load(path):
    image = Cxr.Image.load(path, 0)
    t = image.to_tensor()
    a = np.frombuffer(t.to_bytes().get_data(), dtype=np.float32).reshape(t.get_shape())[0]
    return image, a


rng = np.random.default_rng(7)
with tempfile.TemporaryDirectory() as tmp:
    raw = (np.linspace(0, 4095, 48 * 40).reshape(48, 40) + rng.integers(-50, 50, (48, 40))).clip(0, 4095).astype(np.uint16)

    write_dicom(f"{tmp}/window.dcm", raw, 12, slope=2.0, intercept=-1024.0, window=(1500.0, 4000.0))
    image, ours = load(f"{tmp}/window.dcm")
    theirs = linear_window(raw * 2.0 - 1024.0, 1500.0, 4000.0, 1.0)
    diff = np.abs(ours - theirs).max()
    check(f"12-bit, rescale and window as PS3.3 C.11 (max {diff * 255:.3f}/255)", diff <= 1 / 255)
    check("12 bits stored read as a 16-bit image of the same size",
          image.get_bit_depth() == 16 and ours.shape == (48, 40))

    write_dicom(f"{tmp}/mono1.dcm", raw, 12, photometric="MONOCHROME1", slope=2.0, intercept=-1024.0,
                window=(1500.0, 4000.0))
    _, ours = load(f"{tmp}/mono1.dcm")
    diff = np.abs(ours - (1 - theirs)).max()
    check(f"MONOCHROME1 is inverted (max {diff * 255:.3f}/255)", diff <= 1 / 255)

    _, pydicom_ours = load(f"{tmp}/window.dcm")
    ds = pydicom.dcmread(f"{tmp}/window.dcm")
    from pydicom.pixel_data_handlers.util import apply_modality_lut, apply_voi_lut
    ref = apply_voi_lut(apply_modality_lut(ds.pixel_array, ds), ds).astype(np.float64)
    ref = (ref - ref.min()) / (ref.max() - ref.min())
    diff = np.abs(pydicom_ours - ref).max()
    check(f"agrees with pydicom's apply_modality_lut + apply_voi_lut (max {diff * 255:.3f}/255)", diff <= 1 / 255)

    write_dicom(f"{tmp}/nowindow.dcm", raw, 12)
    _, ours = load(f"{tmp}/nowindow.dcm")
    lo, hi = float(raw.min()), float(raw.max())
    theirs = linear_window(raw.astype(np.float64), (lo + hi) / 2, hi - lo, 1.0)
    diff = np.abs(ours - theirs).max()
    check(f"without a window: the values' own range (max {diff * 255:.3f}/255)", diff <= 1 / 255)

    raw8 = rng.integers(0, 256, (30, 20), dtype=np.uint8)
    write_dicom(f"{tmp}/eight.dcm", raw8, 8, window=(127.5, 256.0))
    image, ours = load(f"{tmp}/eight.dcm")
    diff = np.abs(ours * 255 - raw8).max()
    check(f"8-bit with the full window reads its values (max {diff:.2f} levels)",
          image.get_bit_depth() == 8 and diff <= 1.0)

    gray = (np.add.outer(np.arange(64), np.arange(48)) * 2).clip(0, 255).astype(np.uint8)
    Image.fromarray(gray).save(f"{tmp}/g.jpg", quality=90)
    with open(f"{tmp}/g.jpg", "rb") as fp:
        jpeg = fp.read()
    write_dicom(f"{tmp}/jpeg.dcm", gray, 8, window=(127.5, 256.0), syntax=JPEGBaseline8Bit,
                pixel_bytes=encapsulate([jpeg]))
    _, ours = load(f"{tmp}/jpeg.dcm")
    theirs = np.asarray(Image.open(f"{tmp}/g.jpg"), dtype=np.float64)
    diff = np.abs(ours * 255 - theirs).max()
    check(f"an encapsulated baseline JPEG decodes as PIL decodes the JPEG (max {diff:.2f} levels <= 1)",
          ours.shape == (64, 48) and diff <= 1.01)

    # cxrgen convert reads DICOM too
    p = subprocess.run(["cxrgen", "convert", f"{tmp}/window.dcm", f"{tmp}/window.png", "--bits", "16"],
                       capture_output=True, text=True)
    png = np.asarray(Image.open(f"{tmp}/window.png"), dtype=np.float64) / 65535 if p.returncode == 0 else None
    check("cxrgen convert DICOM to 16-bit PNG keeps the rendering",
          png is not None and np.abs(png - linear_window(raw * 2.0 - 1024.0, 1500.0, 4000.0, 1.0)).max() <= 1 / 255,
          p.stderr)

    p = subprocess.run(["cxrgen", "convert", f"{tmp}/window.dcm", f"{tmp}/narrow.tif", "--bits", "16",
                        "--window", "500,1000"], capture_output=True, text=True)
    narrow = np.asarray(Image.open(f"{tmp}/narrow.tif"), dtype=np.float64) / 65535 if p.returncode == 0 else None
    check("convert --window replaces the file's window (modality units)",
          narrow is not None and np.abs(narrow - linear_window(raw * 2.0 - 1024.0, 500.0, 1000.0, 1.0)).max() <= 1 / 255,
          p.stderr)
    image = Cxr.Image.load_windowed(f"{tmp}/g.jpg", 100.0, 50.0)
    t = image.to_tensor()
    ours = np.frombuffer(t.to_bytes().get_data(), dtype=np.float32).reshape(t.get_shape())[0]
    diff = np.abs(ours - linear_window(theirs, 100.0, 50.0, 1.0)).max()
    # one level of decoding difference is 255/49 levels through a 50-wide window
    check(f"a window on a JPEG is in stored values (max {diff * 255:.2f}/255)", diff <= 1.01 / 49)
    p = subprocess.run(["cxrgen", "convert", f"{tmp}/window.dcm", f"{tmp}/x.png", "--window", "500"],
                       capture_output=True, text=True)
    check("convert --window without a width: exit 2 and why", p.returncode == 2 and "CENTER,WIDTH" in p.stderr, p.stderr)

    # writing: a secondary capture of a synthetic image
    img16 = (np.add.outer(np.arange(40) * 1500, np.arange(30) * 7)).clip(0, 65535).astype(np.uint16)
    Image.fromarray(img16).save(f"{tmp}/s16.png")
    outs = []
    for name in ("a", "b"):
        p = subprocess.run(["cxrgen", "convert", f"{tmp}/s16.png", f"{tmp}/{name}.dcm"], capture_output=True, text=True)
        outs.append(pydicom.dcmread(f"{tmp}/{name}.dcm") if p.returncode == 0 else None)
    a, b = outs
    check("convert PNG to .dcm writes DICOM pydicom reads", a is not None and b is not None, p.stderr)
    if a is not None and b is not None:
        check("a secondary capture, MONOCHROME2, synthetic and derived",
              a.SOPClassUID == "1.2.840.10008.5.1.4.1.1.7" and a.PhotometricInterpretation == "MONOCHROME2"
              and a.ConversionType == "SYN" and list(a.ImageType) == ["DERIVED", "SECONDARY"]
              and a.file_meta.TransferSyntaxUID == ExplicitVRLittleEndian)
        check("no patient data, and new UIDs under 2.25 for each file",
              str(a.PatientName) == "" and a.PatientID == "" and a.SOPInstanceUID.startswith("2.25.")
              and a.SOPInstanceUID != b.SOPInstanceUID and a.StudyInstanceUID != b.StudyInstanceUID
              and len(a.SOPInstanceUID) <= 64)
        check("the 16-bit pixels are the PNG's", a.BitsStored == 16 and np.array_equal(a.pixel_array, img16))
        _, back = load(f"{tmp}/a.dcm")
        diff = np.abs(back * 65535 - img16).max()
        check(f"and read back through the shim (max {diff:.2f} of 65535)", diff <= 1.0)

    # a report as a Basic Text SR, in UTF-8
    Cxr.report_save_dicom_sr(f"{tmp}/r.dcm", "Épanchement pleural — 5 mm.", None)
    sr = pydicom.dcmread(f"{tmp}/r.dcm")
    check("a UTF-8 report as a Basic Text SR (ISO_IR 192)",
          sr.SOPClassUID == "1.2.840.10008.5.1.4.1.1.88.11" and sr.SpecificCharacterSet == "ISO_IR 192"
          and [i.TextValue for i in sr.ContentSequence] == ["Épanchement pleural — 5 mm."])

    # broken files
    def error_of(path):
        try:
            Cxr.Image.load(path, 0)
        except GLib.Error as e:
            return e.message
        return None
    data = open(f"{tmp}/window.dcm", "rb").read()
    with open(f"{tmp}/cut.dcm", "wb") as fp:
        fp.write(data[: len(data) - 1000])
    message = error_of(f"{tmp}/cut.dcm")
    check("a truncated DICOM is an error that names it", message is not None and "cut.dcm" in message, message)
    write_dicom(f"{tmp}/nopixels.dcm", raw, 12, with_pixels=False)
    message = error_of(f"{tmp}/nopixels.dcm")
    check("a DICOM without pixel data says so", message is not None and "nopixels.dcm" in message
          and "without pixel data" in message, message)
    write_dicom(f"{tmp}/rgb.dcm", raw, 12, photometric="RGB")
    message = error_of(f"{tmp}/rgb.dcm")
    check("a colour DICOM is refused by name", message is not None and "RGB" in message, message)
    with open(f"{tmp}/junk.dcm", "wb") as fp:
        fp.write(b"\0" * 128 + b"DICM" + bytes(rng.integers(0, 256, 3000, dtype=np.uint8)))
    message = error_of(f"{tmp}/junk.dcm")
    check("a DICOM of junk is an error, not a crash", message is not None and "junk.dcm" in message, message)
finish()
