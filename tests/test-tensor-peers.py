#!/usr/bin/python3
# tests/test-tensor-peers.py: tensors and safetensors files against the
# peers: dtype conversions bit for bit against numpy (f16) and PyTorch
# (bf16), and safetensors files written here by hand from the published
# format read by cxrgen, and cxrgen's files read back here.
import json
import os
import struct
import tempfile

from taplib import check, finish, need_cxr, skip


Cxr, GLib = need_cxr()
try:
    import numpy as np
except ImportError as e:
    skip(f"a peer is missing: {e}")
try:
    import torch
except ImportError:
    torch = None


def to_cxr(array, dtype):
    array = np.ascontiguousarray(array)
    return Cxr.Tensor.new_from_data(dtype, list(array.shape), array.tobytes())


def from_cxr(tensor, np_dtype):
    data = tensor.to_bytes().get_data()
    return np.frombuffer(data, dtype=np_dtype).reshape(tensor.get_shape())


rng = np.random.default_rng(1234)
# Every exponent, random mantissas, both signs: normals, subnormals,
# overflow and the special values.
bits = rng.integers(0, 2**32, size=200000, dtype=np.uint64).astype(np.uint32)
values = bits.view(np.float32)
values = np.concatenate([values, np.array([0.0, -0.0, 1.0, 65504, 65519.99, 65520, np.inf, -np.inf,
                                           2**-24, 2**-25, 3 * 2**-25, 2**-14, 1 + 2**-11], np.float32)])
finite = ~np.isnan(values)

# f32 -> f16, bit for bit against numpy.
ours = from_cxr(to_cxr(values, Cxr.DType.F32).to_dtype(Cxr.DType.F16), np.uint16)
with np.errstate(over="ignore"):
    theirs = values.astype(np.float16).view(np.uint16)
mismatch = np.nonzero((ours != theirs) & finite)[0]
check("f32 to f16 matches numpy bit for bit (200k values, all exponents)", mismatch.size == 0,
      f"{mismatch.size} differ, first {values[mismatch[:3]]}: {ours[mismatch[:3]]} != {theirs[mismatch[:3]]}")
check("f32 to f16 keeps NaN a NaN", np.all(np.isnan(ours[~finite].view(np.float16))))

# f16 -> f32, every one of the 65536 patterns.
all16 = np.arange(65536, dtype=np.uint32).astype(np.uint16)
ours = from_cxr(to_cxr(all16, Cxr.DType.F16).to_dtype(Cxr.DType.F32), np.float32)
theirs = all16.view(np.float16).astype(np.float32)
same = (ours.view(np.uint32) == theirs.view(np.uint32)) | (np.isnan(ours) & np.isnan(theirs))
check("f16 to f32 matches numpy for all 65536 values", bool(np.all(same)))

if torch is not None:
    t = torch.from_numpy(values.copy())
    theirs = t.to(torch.bfloat16).view(torch.int16).numpy().view(np.uint16)
    ours = from_cxr(to_cxr(values, Cxr.DType.F32).to_dtype(Cxr.DType.BF16), np.uint16)
    mismatch = np.nonzero((ours != theirs) & finite)[0]
    check("f32 to bf16 matches PyTorch bit for bit (200k values)", mismatch.size == 0,
          f"{mismatch.size} differ: {ours[mismatch[:3]]} != {theirs[mismatch[:3]]}")
    ours = from_cxr(to_cxr(all16, Cxr.DType.BF16).to_dtype(Cxr.DType.F32), np.float32)
    theirs = torch.from_numpy(all16.view(np.int16).copy()).view(torch.bfloat16).float().numpy()
    same = (ours.view(np.uint32) == theirs.view(np.uint32)) | (np.isnan(ours) & np.isnan(theirs))
    check("bf16 to f32 matches PyTorch for all 65536 values", bool(np.all(same)))
else:
    check("PyTorch is there for the bf16 checks (install python3-torch)", False)

# Views through GI.
a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
t = to_cxr(a, Cxr.DType.F32)
check("transpose matches numpy", np.array_equal(from_cxr(t.transpose(0, 2).contiguous(), np.float32),
                                                a.transpose(2, 1, 0)))
check("slice matches numpy", np.array_equal(from_cxr(t.slice(2, 1, 4, 2).contiguous(), np.float32),
                                            a[:, :, 1:4:2]))
check("permute matches numpy", np.array_equal(from_cxr(t.permute([1, 2, 0]).contiguous(), np.float32),
                                              a.transpose(1, 2, 0)))


def write_safetensors(path, arrays, metadata=None):
    """The published format, written independently of cxrgen."""
    header, blobs, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(arrays, reverse=True):  # any order: readers look up by name
        dtype, array = arrays[name]
        raw = np.ascontiguousarray(array).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    text = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in blobs:
            f.write(raw)


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + n])
    base = 8 + n
    return header, data[base:]


np_of = {"F32": np.float32, "F16": np.float16, "I64": np.int64, "BF16": np.uint16, "U8": np.uint8}
arrays = {
    "model.encoder.layers.0.fc1.weight": ("F32", rng.standard_normal((3, 5)).astype(np.float32)),
    "model.shared.weight": ("F16", rng.standard_normal((7, 2)).astype(np.float16)),
    "position_ids": ("I64", np.arange(9, dtype=np.int64).reshape(1, 9)),
    "vae.bf16": ("BF16", rng.integers(0, 65535, size=(2, 2, 2), dtype=np.uint16)),
    "mask": ("U8", np.array([1, 0, 1], dtype=np.uint8)),
}
with tempfile.TemporaryDirectory() as tmp:
    path = os.path.join(tmp, "peer.safetensors")
    write_safetensors(path, arrays, {"format": "pt"})
    f = Cxr.Safetensors.open(path)
    check("a file written to the published format opens", f.get_n_tensors() == len(arrays))
    check("its metadata reads back", f.get_metadata("format") == "pt")
    good = True
    for name, (dtype, array) in arrays.items():
        t = f.get_tensor(name)
        good &= Cxr.dtype_get_name(t.get_dtype()) == dtype
        good &= list(t.get_shape()) == list(array.shape)
        good &= np.array_equal(from_cxr(t, np_of[dtype]), array)
    check("every tensor reads back with its dtype, shape and bytes", good)
    check("the parameter count is the sum of the element counts",
          f.get_n_elements() == sum(a.size for _, a in arrays.values()))

    out = os.path.join(tmp, "ours.safetensors")
    tensors = {name: f.get_tensor(name) for name in arrays}
    Cxr.Safetensors.save(out, tensors, {"step": "7"})
    header, data = read_safetensors(out)
    good = header.get("__metadata__") == {"step": "7"}
    for name, (dtype, array) in arrays.items():
        info = header[name]
        begin, end = info["data_offsets"]
        back = np.frombuffer(data[begin:end], dtype=np_of[dtype]).reshape(info["shape"])
        good &= info["dtype"] == dtype and np.array_equal(back, array)
    check("a file cxrgen writes reads back here, to the published format", good)

    if torch is not None:
        # PyTorch's own bfloat16 bits survive the round trip.
        x = torch.randn(4, 3).to(torch.bfloat16)
        write_safetensors(path, {"x": ("BF16", x.view(torch.int16).numpy().view(np.uint16))})
        t = Cxr.Safetensors.open(path).get_tensor("x").to_dtype(Cxr.DType.F32)
        check("bf16 weights load as PyTorch's float() of them",
              np.array_equal(from_cxr(t, np.float32), x.float().numpy()))

    with open(path, "wb") as bad:
        bad.write(struct.pack("<Q", 10) + b"{not json}")
    try:
        Cxr.Safetensors.open(path)
        check("a malformed file raises", False)
    except GLib.Error as e:
        check("a malformed file raises a GLib.Error naming the file", path in e.message, e.message)

finish()
