# tests/reference/common.py: what the fixture writers share: safetensors
# written out by hand (the format is a JSON header and the raw data), the
# config.json, and the run of a reference model into a fixture folder.
#
# A fixture folder, as `cxrgen model run` and `compare` use it:
#   config.json, model.safetensors   the model (a Hugging Face folder)
#   inputs.safetensors               named as the forward arguments
#   target.safetensors               (optional) targets named as outputs
#   expected.safetensors             outputs, and with a target the loss and
#                                    grad.NAME of every parameter and input
import json
import struct

import torch

DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.float16: "F16", torch.bfloat16: "BF16",
          torch.int64: "I64", torch.int32: "I32"}


def save_safetensors(path, tensors, dtype=None):
    """Writes tensors (float ones as float32, or as dtype) to path."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous()
        if t.is_floating_point():
            t = t.to(dtype or torch.float32)
        if t.dtype == torch.bfloat16:
            data = t.view(torch.int16).numpy().tobytes()
        else:
            data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as fp:
        fp.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def load_safetensors(path):
    """The tensors of a safetensors file as numpy arrays (F32, F64, I64)."""
    import numpy as np
    kinds = {"F32": np.float32, "F64": np.float64, "I64": np.int64}
    with open(path, "rb") as fp:
        n = struct.unpack("<Q", fp.read(8))[0]
        header = json.loads(fp.read(n))
        data = fp.read()
    return {k: np.frombuffer(data[v["data_offsets"][0]:v["data_offsets"][1]], dtype=kinds[v["dtype"]]).reshape(v["shape"])
            for k, v in header.items() if k != "__metadata__" and v["dtype"] in kinds}


def randomize_batch_norms(net):
    """Batch norms with random affine parameters and running statistics,
    so that tests exercise them (fresh ones are the identity)."""
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
    return net


def random_params(shapes, seed):
    """Random float32 parameters: norms near 1, the rest small."""
    g = torch.Generator().manual_seed(seed)
    params = {}
    for name, shape in shapes.items():
        t = torch.randn(shape, generator=g) * 0.2
        if ("norm" in name or "layrnorm" in name) and name.endswith("weight"):
            t = 1.0 + 0.1 * torch.randn(shape, generator=g)
        params[name] = t.float()
    return params


def write_fixture(folder, config, params, inputs, forward, targets=None, saved=None):
    """Runs forward(params, inputs) -> {name: tensor} in float64 from the
    float32 values saved, and writes the fixture folder (the weights file
    holds saved, when given: the same values under other names)."""
    with open(f"{folder}/config.json", "w") as fp:
        json.dump(config, fp, indent=1)
    save_safetensors(f"{folder}/model.safetensors", saved if saved is not None else params)
    save_safetensors(f"{folder}/inputs.safetensors", inputs)
    p64 = {k: v.double().requires_grad_(targets is not None) for k, v in params.items()}
    i64 = {k: (v.double().requires_grad_(targets is not None) if v.is_floating_point() else v) for k, v in inputs.items()}
    outputs = forward(p64, i64)
    expected = {k: v for k, v in outputs.items()}
    if targets is not None:
        save_safetensors(f"{folder}/target.safetensors", targets)
        loss = sum(torch.nn.functional.mse_loss(outputs[k], v.double()) for k, v in targets.items())
        loss.backward()
        expected["loss"] = loss
        for k, v in list(p64.items()) + [(k, v) for k, v in i64.items() if v.is_floating_point()]:
            expected[f"grad.{k}"] = v.grad if v.grad is not None else torch.zeros_like(v)
    save_safetensors(f"{folder}/expected.safetensors", expected)


def csv_floats(row, name):
    """The float field NAME of a csv-sink row (columns NAME.0, NAME.1, ...)."""
    import numpy as np
    keys = sorted((k for k in row if k.startswith(name + ".")), key=lambda k: int(k.rsplit(".", 1)[1]))
    return np.array([float(row[k]) for k in keys])
