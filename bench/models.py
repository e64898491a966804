#!/usr/bin/python3
# bench/models.py: whole networks, `cxrgen model bench` against the same
# network in PyTorch (the plain-PyTorch references of tests/reference/,
# float32, no_grad) in the same run, on the same threads, with the same
# random weights' shapes. Run it with bench/run-models. Prints, per network
# and batch: median milliseconds of each side, the ratio cxrgen / PyTorch
# (below 1: cxrgen is faster), cxrgen's GFLOP/s and its peak tensor memory
# against the weights.
import json
import os
import subprocess
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "reference"))
import clip  # noqa: E402
import sd  # noqa: E402
import uvit  # noqa: E402
from common import random_params  # noqa: E402
import timing  # noqa: E402

THREADS = int(os.environ.get("CXRGEN_THREADS", "2"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
torch.set_num_threads(THREADS)

SD_TEXT = {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
           "max_position_embeddings": 77, "vocab_size": 49408, "hidden_act": "quick_gelu", "eos_token_id": 2}
# U-ViT-S/2 for 4x32x32 latents and the paper's 78 context tokens (uvit's built-in configuration)
UVIT_S2 = dict(uvit.UVIT, img_size=32, embed_dim=512, depth=12, num_heads=8, mlp_ratio=4, clip_dim=768,
               num_clip_token=78)
B32_VISION = {"hidden_size": 768, "intermediate_size": 3072, "num_attention_heads": 12, "num_hidden_layers": 12,
              "image_size": 224, "patch_size": 32, "num_channels": 3, "hidden_act": "quick_gelu"}


def median_ms(fn):
    return timing.median_ms(fn, REPEAT)


def torch_ms(forward, params, inputs):
    with torch.no_grad():
        return median_ms(lambda: forward(params, inputs))


def sd_configs():
    """SD v1.4's UNet and VAE configurations (the built-in ones)."""
    unet = dict(sd.UNET, attention_head_dim=8, block_out_channels=[320, 640, 1280, 1280], cross_attention_dim=768,
                down_block_types=["CrossAttnDownBlock2D"] * 3 + ["DownBlock2D"], layers_per_block=2,
                norm_num_groups=32, up_block_types=["UpBlock2D"] + ["CrossAttnUpBlock2D"] * 3)
    vae = dict(sd.VAE, block_out_channels=[128, 256, 512, 512], down_block_types=["DownEncoderBlock2D"] * 4,
               up_block_types=["UpDecoderBlock2D"] * 4, layers_per_block=2, norm_num_groups=32)
    return unet, vae


def cxrgen_args(model_type, batch, train=False):
    return ["cxrgen", "model", "bench", model_type, "--batch", str(batch), "--repeat", str(REPEAT),
            "--threads", str(THREADS), "--json"] + (["--train"] if train else [])


def cxrgen(model_type, batch):
    r = subprocess.run(cxrgen_args(model_type, batch), capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def main():
    print(f"{'network':<28}{'cxrgen ms':>11}{'torch ms':>11}{'ratio':>8}{'GFLOP/s':>9}{'peak/weights':>14}")
    cases = [("clip-text", "SD v1.4 text", SD_TEXT, clip.text_shapes, clip.text_forward, [1, 2]),
             ("clip-vision", "ViT-B/32 vision", B32_VISION, clip.vision_shapes, clip.vision_forward, [1, 8])]
    for model_type, label, cfg, shapes, forward, batches in cases:
        params = random_params(shapes(cfg, 0), 1)
        fn = forward(cfg, 0)
        for batch in batches:
            if model_type == "clip-text":
                inputs = {"input_ids": torch.randint(0, cfg["vocab_size"], (batch, 77))}
            else:
                inputs = {"pixel_values": torch.randn(batch, 3, 224, 224)}
            t = torch_ms(fn, params, inputs)
            c = cxrgen(model_type, batch)
            print(f"{label + ', batch ' + str(batch):<28}{c['median_ms']:>11.1f}{t:>11.1f}{c['median_ms'] / t:>8.2f}"
                  f"{c['gflops']:>9.1f}{c['peak_bytes'] / c['weight_bytes']:>14.2f}")
    # U-ViT-S/2, one sampling step (batch 2: one image with guidance)
    params = random_params(uvit.shapes(UVIT_S2), 1)
    fn = uvit.forward(UVIT_S2)
    for batch in (1, 2):
        inputs = {"sample": torch.randn(batch, 4, 32, 32), "timestep": torch.full((batch,), 500.0),
                  "encoder_hidden_states": torch.randn(batch, 78, 768)}
        t = torch_ms(fn, params, inputs)
        c = cxrgen("uvit", batch)
        print(f"{'U-ViT-S/2, batch ' + str(batch):<28}{c['median_ms']:>11.1f}{t:>11.1f}{c['median_ms'] / t:>8.2f}"
              f"{c['gflops']:>9.1f}{c['peak_bytes'] / c['weight_bytes']:>14.2f}")


def child(args):
    """Runs a command; returns its output and its peak resident memory in bytes (os.wait4: this child's own)."""
    import tempfile
    with tempfile.TemporaryFile("w+") as err:
        p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=err, text=True)
        out = p.stdout.read()
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            err.seek(0)
            raise RuntimeError(f"{' '.join(args[:4])} failed: {err.read()[-2000:]}")
    return out, usage.ru_maxrss * 1024


def torch_sd_ms(kind, batch):
    """PyTorch's side of the SD benchmarks, in a process of its own: one UNet sampling step, one VAE decode, or
    one UNet training step (forward, the mean square of the output, backward, torch.optim.AdamW)."""
    unet_cfg, vae_cfg = sd_configs()
    if kind == "vae":
        params = random_params(sd.vae_shapes(vae_cfg), 2)
        return torch_ms(lambda p, i: sd.vae_decode(vae_cfg, p, i["latents"]), params,
                        {"latents": torch.randn(batch, 4, 32, 32)})
    params = random_params(sd.unet_shapes(unet_cfg), 1)
    fn = sd.unet_forward(unet_cfg)
    inputs = {"sample": torch.randn(batch, 4, 32, 32), "timestep": torch.full((batch,), 500.0),
              "encoder_hidden_states": torch.randn(batch, 78, 768)}
    if kind == "unet":
        return torch_ms(fn, params, inputs)
    for p in params.values():
        p.requires_grad_(True)
    opt = torch.optim.AdamW(list(params.values()), lr=1e-5)

    def step():
        opt.zero_grad(set_to_none=False)
        out = fn(params, inputs)["sample"]
        loss = (out * out).mean()
        loss.backward()
        opt.step()

    return median_ms(step)


def sd_case(label, kind, model_type, batch, train=False):
    """One line: each side in a process of its own, one after the other (with the strong configuration's
    malloc settings a process never gives freed memory back), with each one's peak resident memory."""
    out, torch_rss = child([sys.executable, __file__, "--torch-sd", kind, str(batch)])
    t = float(out.strip().splitlines()[-1])
    out, ours_rss = child(cxrgen_args(model_type, batch, train))
    c = json.loads(out)
    print(f"{label:<28}{c['median_ms']:>11.1f}{t:>11.1f}{c['median_ms'] / t:>8.2f}{c['gflops']:>9.1f}"
          f"{c['peak_bytes'] / c['weight_bytes']:>14.2f}{ours_rss / 2**30:>9.2f}{torch_rss / 2**30:>9.2f}")


def main_sd():
    """SD v1.4's UNet at 4x32x32 latents (the paper's 256x256 images), batch 1 and 2 (2: one image with
    guidance), and the VAE decoding one 256x256 image."""
    print(f"{'network':<28}{'cxrgen ms':>11}{'torch ms':>11}{'ratio':>8}{'GFLOP/s':>9}{'peak/weights':>14}"
          f"{'RSS GiB':>9}{'torch':>9}")
    for batch in (1, 2):
        sd_case(f"SD v1.4 UNet, batch {batch}", "unet", "sd-unet", batch)
    sd_case("SD v1.4 VAE decode 256", "vae", "sd-vae", 1)


def main_sd_train(batch=4):
    """One training step of SD v1.4's UNet at 4x32x32 latents, batch 4: forward, the mean square of the output,
    backward, AdamW (PyTorch's torch.optim.AdamW; cxrgen's fused one). Each side holds weights, gradients and two
    moments (14 GB)."""
    print(f"{'network':<28}{'cxrgen ms':>11}{'torch ms':>11}{'ratio':>8}{'GFLOP/s':>9}{'peak/weights':>14}"
          f"{'RSS GiB':>9}{'torch':>9}")
    sd_case(f"SD v1.4 UNet train, batch {batch}", "train", "sd-unet", batch, train=True)


def main_inception():
    """FID's Inception-v3 (pytorch-fid's variant) at 299x299, batch 1 and 8."""
    import inception
    net = inception.make(seed=1).float()
    for batch in (1, 8):
        x = torch.rand(batch, 3, 299, 299) * 2 - 1
        t = torch_ms(lambda p, i: inception.fid_features(net, i["x"]), None, {"x": x})
        c = cxrgen("inception-v3", batch)
        print(f"{'Inception-v3 (FID), batch ' + str(batch):<28}{c['median_ms']:>11.1f}{t:>11.1f}"
              f"{c['median_ms'] / t:>8.2f}{c['gflops']:>9.1f}{c['peak_bytes'] / c['weight_bytes']:>14.2f}")


if __name__ == "__main__":
    if "--inception" in sys.argv:
        main_inception()
        sys.exit(0)
    if "--torch-sd" in sys.argv:
        print(torch_sd_ms(sys.argv[-2], int(sys.argv[-1])))
        sys.exit(0)
    if "--sd-train" in sys.argv:
        main_sd_train()
        sys.exit(0)
    if "--sd" in sys.argv:
        main_sd()
        sys.exit(0)
    main()
