#!/usr/bin/python3
# tools/pth-to-safetensors.py: a PyTorch checkpoint (.pth, .pt, .bin) to
# safetensors with the same tensor names, for the models cxrgen reads
# (pytorch-fid's pt_inception-2015-12-05-6726825d.pth, CheXNet and
# torchvision DenseNets, ...). Needs PyTorch (Debian: python3-torch).
#
#   tools/pth-to-safetensors.py IN.pth OUT.safetensors [--prefix P] [--strip S]
#
# A checkpoint that wraps its weights ({"state_dict": ...}, {"model": ...})
# is unwrapped; --strip removes a leading name part ("module."), --prefix
# keeps only the tensors under it. Tensors keep their dtype (float64 is
# written as float32). The output is written to a temporary name and
# renamed when complete.
import argparse
import json
import os
import struct
import sys
import tempfile

try:
    import torch
except ImportError:
    sys.exit("pth-to-safetensors: needs PyTorch (apt-get install python3-torch)")

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16", torch.int64: "I64",
          torch.int32: "I32", torch.uint8: "U8", torch.bool: "BOOL"}


def weights_of(checkpoint):
    for key in ("state_dict", "model", "model_state_dict"):
        if isinstance(checkpoint, dict) and key in checkpoint and isinstance(checkpoint[key], dict):
            return checkpoint[key]
    if isinstance(checkpoint, torch.nn.Module):
        return checkpoint.state_dict()
    return checkpoint


def main():
    parser = argparse.ArgumentParser(description="PyTorch checkpoint to safetensors, names kept")
    parser.add_argument("input")
    parser.add_argument("output")
    parser.add_argument("--strip", default="", help="remove this leading part of every name (e.g. module.)")
    parser.add_argument("--prefix", default="", help="keep only the tensors whose names start with this")
    args = parser.parse_args()

    try:
        checkpoint = torch.load(args.input, map_location="cpu")
    except Exception as e:  # noqa: BLE001 - any unreadable file is reported the same way
        sys.exit(f"pth-to-safetensors: {args.input}: cannot load: {e}")
    weights = weights_of(checkpoint)
    if not isinstance(weights, dict):
        sys.exit(f"pth-to-safetensors: {args.input}: no dictionary of tensors in it")
    header, blobs, offset = {}, [], 0
    for name, t in weights.items():
        if not torch.is_tensor(t) or not name.startswith(args.prefix):
            continue
        if args.strip and name.startswith(args.strip):
            name = name[len(args.strip):]
        t = t.detach().contiguous()
        if t.dtype == torch.float64:
            t = t.float()
        if t.dtype not in DTYPES:
            sys.exit(f"pth-to-safetensors: {args.input}: tensor {name}: unsupported dtype {t.dtype}")
        data = (t.view(torch.int16) if t.dtype == torch.bfloat16 else t).numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    if not header:
        sys.exit(f"pth-to-safetensors: {args.input}: no tensors to write")
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    folder = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".pth-to-safetensors-")
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(struct.pack("<Q", len(text)) + text)
            for blob in blobs:
                fp.write(blob)
            fp.flush()
            os.fsync(fp.fileno())
        os.replace(tmp, args.output)
    except BaseException:
        os.unlink(tmp)
        raise
    print(f"{args.output}: {len(header)} tensors")


if __name__ == "__main__":
    main()
