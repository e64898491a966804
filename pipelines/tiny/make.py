#!/usr/bin/python3
# pipelines/tiny/make.py: writes the tiny configurations and the tokenizer
# that the phantom pipelines run with (run by hand; its output is
# committed). The networks are SD's and CLIP's blocks at toy widths: the
# phantom pipelines start them from seeded random weights
# (random-weights=true), as no small pretrained ones exist. The tokenizer's
# vocabulary is learnt, with CLIP's byte-level BPE, from the words of the
# paper's prompts, so every prompt label-prompt writes encodes.
#   /usr/bin/python3 pipelines/tiny/make.py
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "reference"))
from clip_tokenizer import SPECIAL, learn, write_files  # noqa: E402

OBS = ["atelectasis", "cardiomegaly", "consolidation", "edema", "enlarged cardiomediastinum", "fracture",
       "lung lesion", "lung opacity", "no finding", "pleural effusion", "pleural other", "pneumonia", "pneumothorax",
       "support devices"]
corpus = ["A chest X ray image with " + " and ".join(OBS) + ", without " + " and ".join(OBS) +
          ", and with uncertain " + " and ".join(OBS)] * 4
vocab, merges = learn(corpus, 200)
os.makedirs(f"{HERE}/tokenizer", exist_ok=True)
write_files(f"{HERE}/tokenizer", vocab, merges)

configs = {
    "text_encoder": {"architectures": ["CLIPTextModel"], "model_type": "clip_text_model", "hidden_act": "quick_gelu",
                     "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2,
                     "max_position_embeddings": 77, "vocab_size": len(vocab), "layer_norm_eps": 1e-5,
                     "bos_token_id": vocab[SPECIAL[0]], "eos_token_id": vocab[SPECIAL[1]], "pad_token_id": 1},
    "clip-vision": {"architectures": ["CLIPVisionModel"], "model_type": "clip_vision_model",
                    "hidden_act": "quick_gelu", "hidden_size": 32, "intermediate_size": 64, "num_attention_heads": 4,
                    "num_hidden_layers": 2, "image_size": 32, "patch_size": 8, "num_channels": 3},
    "sd-unet": {"_class_name": "UNet2DConditionModel", "act_fn": "silu", "attention_head_dim": 4,
             "block_out_channels": [32, 64], "cross_attention_dim": 32,
             "down_block_types": ["CrossAttnDownBlock2D", "DownBlock2D"], "flip_sin_to_cos": True, "freq_shift": 0,
             "in_channels": 4, "layers_per_block": 1, "norm_eps": 1e-05, "norm_num_groups": 8, "out_channels": 4,
             "sample_size": 16, "up_block_types": ["UpBlock2D", "CrossAttnUpBlock2D"]},
    # U-ViT at the same scale: 16x16x4 latents in patches of 2, the
    # paper's context (77 text tokens and the reference image's)
    "uvit": {"_class_name": "UViT", "img_size": 16, "in_chans": 4, "patch_size": 2, "embed_dim": 64, "depth": 4,
             "num_heads": 4, "mlp_ratio": 2, "qkv_bias": False, "mlp_time_embed": False, "clip_dim": 32,
             "num_clip_token": 78, "conv": True, "skip": True},
    "vae": {"_class_name": "AutoencoderKL", "act_fn": "silu", "block_out_channels": [16, 32],
            "down_block_types": ["DownEncoderBlock2D", "DownEncoderBlock2D"], "in_channels": 3, "latent_channels": 4,
            "layers_per_block": 1, "norm_num_groups": 8, "out_channels": 3, "sample_size": 32,
            "up_block_types": ["UpDecoderBlock2D", "UpDecoderBlock2D"],
            # 1 / the deviation of the seeded random VAE's latent means on
            # phantoms (0.0148), measured as SD's 0.18215 was: the denoiser
            # and the prior see latents of unit scale
            "scaling_factor": 67.6},
}
for name, cfg in configs.items():
    os.makedirs(f"{HERE}/{name}", exist_ok=True)
    with open(f"{HERE}/{name}/config.json", "w") as fp:
        json.dump(cfg, fp, indent=1)
        fp.write("\n")

# The language module's tiny networks: BART (the report autoencoder) with a
# byte-level BPE vocabulary (GPT-2's scheme, as facebook/bart-base) learnt
# from phantom reports (all the phantom's sentences occur in 2000 studies),
# and the ViT prior on the tiny VAE's latents of 32x32 images (16x16x4).
import subprocess  # noqa: E402
import tempfile  # noqa: E402
from clip_tokenizer import learn_byte_level  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    subprocess.run([os.path.join(HERE, "..", "..", "tests", "run-uninstalled"), "cxrgen", "phantom", "--out", tmp,
                    "--count", "2000", "--size", "32"], check=True, capture_output=True)
    reports = []
    for root, _, files in os.walk(f"{tmp}/files"):
        reports += [open(os.path.join(root, f)).read() for f in sorted(files) if f.endswith(".txt")]
bvocab, bmerges = learn_byte_level(sorted(set(reports)), 400)
os.makedirs(f"{HERE}/bart", exist_ok=True)
write_files(f"{HERE}/bart", bvocab, bmerges)
language = {
    "bart": {"architectures": ["BartForConditionalGeneration"], "model_type": "bart", "activation_function": "gelu",
             "d_model": 32, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 4,
             "decoder_attention_heads": 4, "encoder_ffn_dim": 64, "decoder_ffn_dim": 64,
             "max_position_embeddings": 256, "vocab_size": len(bvocab), "pad_token_id": 1, "bos_token_id": 0,
             "eos_token_id": 2, "decoder_start_token_id": 2, "forced_bos_token_id": 0, "scale_embedding": False},
    "prior": {"architectures": ["ViTModel"], "model_type": "vit", "hidden_act": "gelu", "hidden_size": 32,
              "intermediate_size": 64, "num_attention_heads": 4, "num_hidden_layers": 2, "image_size": 16,
              "patch_size": 2, "num_channels": 4, "layer_norm_eps": 1e-12, "qkv_bias": True},
}
for name, cfg in language.items():
    os.makedirs(f"{HERE}/{name}", exist_ok=True)
    with open(f"{HERE}/{name}/config.json", "w") as fp:
        json.dump(cfg, fp, indent=1)
        fp.write("\n")
