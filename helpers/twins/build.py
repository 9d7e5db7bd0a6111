"""Build the twin hub cache: tiny, seeded, random-weight copies of every checkpoint the chapter loads.

A twin keeps what a caller can see (classes, scheduler config, channels, VAE scale factor, default
size, tokenizer, which fp16 files exist) and shrinks everything else. See `facts.py` for the table.

The same recipes build *full-size* twins (`size="full"`): every architecture-bearing component is then made
from the real checkpoint's config, recorded with its source in `full_size.json`, so parameter counts, FLOPs
and memory match the real model. They exist to measure speed, are built on demand and never committed.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

from helpers.loading import WEIGHT_NAME
from helpers.manifests import has_fp16_files, recorded_files
from helpers.models import MODELS
from helpers.twins.facts import FACTS

# Bump when the twins change: an older cache is then rebuilt.
BUILDER_VERSION = "12"
FULL_BUILDER_VERSION = "3"  # the full-size recipe (full_size.json) has its own version: rebuilding costs minutes
MARKER = "twin.json"

# The real CLIP byte-pair merges (MIT licence, OpenAI) ship inside this small PyPI wheel; the twins'
# tokenizers are built from it so that prompts split into the same 77-token windows as the real ones.
CLIP_WHEEL = "clip_anytorch-2.6.0-py3-none-any.whl"
CLIP_WHEEL_SHA256 = "ebc0afed243851b9dc7e16ab8afb665237e8a5838986e97cd99f123ae4ce94ce"

TEXT_DIM = 32  # hidden size of every tiny text encoder (the real ones use 768 / 1024 / 1280)

# Real checkpoints that share a text encoder share it here too (seeds name the real encoder).
UNET_CH = (8, 16, 16)  # three levels, attention only on the smallest; the real UNets have four, from 320 up
PLAIN = ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
PLAIN_UP = ("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D")
CLIP_L = "openai/clip-vit-large-patch14"  # SD 1.x and its fine-tunes, SD inpainting, x2 upscaler, SDXL's first
CLIP_H = "laion/CLIP-ViT-H-14"  # x4 upscaler (an SD 2 model)
CLIP_BIGG = "laion/CLIP-ViT-bigG-14"  # SDXL's second encoder


SIZES = ("tiny", "full")
FULL_SIZE_FILE = Path(__file__).with_name("full_size.json")


def full_size_configs() -> dict:
    """The real checkpoints' architecture configs, by repo and component folder, with sources (ch. 1)."""
    data = json.loads(FULL_SIZE_FILE.read_text())
    return {repo: parts for repo, parts in data.items() if not repo.startswith("_")}


def full_size_repos() -> list[str]:
    """Repo ids that have a full-size recipe (ch. 1)."""
    return list(full_size_configs())


class TwinBuildError(RuntimeError):
    """Raised when the twin cache cannot be built; the message says what to do."""


# ---------------------------------------------------------------- tokenizer


def _clip_merges(src_dir: Path) -> list[str]:
    wheel = src_dir / CLIP_WHEEL
    if not wheel.exists():
        src_dir.mkdir(parents=True, exist_ok=True)
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "clip-anytorch==2.6.0",
               "-d", str(src_dir)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0 or not wheel.exists():
            raise TwinBuildError(
                "The twin builder needs the real CLIP vocabulary, which it takes from the PyPI wheel "
                f"clip-anytorch==2.6.0, and pip could not fetch it:\n{done.stderr.strip()[-500:]}\n"
                f"Fix: while online, run `pip download --no-deps clip-anytorch==2.6.0 -d {src_dir}`."
            )
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    if digest != CLIP_WHEEL_SHA256:
        raise TwinBuildError(f"{wheel} has sha256 {digest}, expected {CLIP_WHEEL_SHA256}. Delete it and build again.")
    with zipfile.ZipFile(wheel) as z:
        text = gzip.decompress(z.read("clip/bpe_simple_vocab_16e6.txt.gz")).decode("utf-8")
    # first line is a header; CLIP keeps 49152 - 256 - 2 merges
    return text.split("\n")[1 : 49152 - 256 - 2 + 1]


def _byte_alphabet() -> list[str]:
    """The 256 printable stand-ins for raw bytes used by byte-level BPE (GPT-2 / CLIP convention)."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = [], 0
    for b in range(256):
        if b in keep:
            chars.append(chr(b))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    # CLIP orders the vocabulary by the printable bytes first, then the remapped ones
    ordered = [chr(b) for b in keep] + [c for b, c in enumerate(chars) if b not in keep]
    return ordered


def clip_vocab(src_dir: Path) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """The real 49408-token CLIP vocabulary and its merges (ch. 1)."""
    merges = [tuple(m.split()) for m in _clip_merges(src_dir)]
    alphabet = _byte_alphabet()
    tokens = alphabet + [c + "</w>" for c in alphabet] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    return {t: i for i, t in enumerate(tokens)}, merges


def save_tokenizer(folder: Path, vocab, merges, pad_token: str = "<|endoftext|>") -> None:
    """Save a CLIP tokenizer with the 77-token window into `folder` (ch. 1)."""

    from transformers import CLIPTokenizer

    tok = CLIPTokenizer(vocab=dict(vocab), merges=list(merges), pad_token=pad_token, model_max_length=77)
    tok.save_pretrained(folder)


# ---------------------------------------------------------------- tiny components


def _seed(name: str) -> None:
    import torch

    torch.manual_seed(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))


def text_encoder(cls_name: str, seed: str, pad_token_id: int = 49407):
    """Tiny CLIP text encoder with the real vocabulary size and 77 positions (ch. 1)."""

    import transformers

    _seed(seed)
    cfg = transformers.CLIPTextConfig(
        vocab_size=49408, hidden_size=TEXT_DIM, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, projection_dim=TEXT_DIM, bos_token_id=49406, eos_token_id=49407,
        pad_token_id=pad_token_id, hidden_act="quick_gelu",
    )
    return getattr(transformers, cls_name)(cfg).eval()


def vision_encoder(seed: str):
    """Tiny CLIP vision encoder with projection, for the Kandinsky prior (ch. 3)."""

    import transformers

    _seed(seed)
    cfg = transformers.CLIPVisionConfig(
        image_size=224, patch_size=32, hidden_size=TEXT_DIM, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=2, projection_dim=TEXT_DIM,
    )
    return transformers.CLIPVisionModelWithProjection(cfg).eval()


def image_processor():
    """CLIP image processor with the real 224-pixel settings (ch. 1)."""

    from transformers import CLIPImageProcessor

    return CLIPImageProcessor(crop_size={"height": 224, "width": 224}, size={"shortest_edge": 224})


def vae(seed: str, blocks: int = 4, scaling_factor: float = 0.18215, force_upcast: bool = False):
    """Tiny AutoencoderKL with the real latent channels, scale factor and scaling factor (ch. 1)."""

    from diffusers import AutoencoderKL

    _seed(seed)
    ch = [8, 8, 16, 16][:blocks]
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, block_out_channels=ch, layers_per_block=1,
        norm_num_groups=8, down_block_types=["DownEncoderBlock2D"] * blocks,
        up_block_types=["UpDecoderBlock2D"] * blocks, sample_size=512 if blocks == 4 else 256,
        scaling_factor=scaling_factor, force_upcast=force_upcast,
        mid_block_add_attention=False,  # full-resolution attention would dominate CPU time
    ).eval()


def sd_unet(seed: str, in_channels: int = 4, sample_size: int = 64, cross_dim: int = TEXT_DIM, **extra):
    """Tiny SD-style UNet with the real in/out channels and default sample size (ch. 1)."""

    from diffusers import UNet2DConditionModel

    _seed(seed)
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=in_channels, out_channels=4, layers_per_block=1,
        block_out_channels=UNET_CH, down_block_types=PLAIN,
        up_block_types=PLAIN_UP, cross_attention_dim=cross_dim, attention_head_dim=8,
        norm_num_groups=8, **extra,
    ).eval()


def safety_checker(seed: str):
    """Tiny SD safety checker; its concept thresholds never flag noise (ch. 1)."""

    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    _seed(seed)
    cfg = CLIPConfig(
        text_config={"hidden_size": TEXT_DIM, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": 1000, "bos_token_id": 0, "eos_token_id": 2,
                     "pad_token_id": 1},
        vision_config={"image_size": 224, "patch_size": 32, "hidden_size": TEXT_DIM, "intermediate_size": 64,
                       "num_hidden_layers": 1, "num_attention_heads": 2},
        projection_dim=TEXT_DIM,
    )
    return StableDiffusionSafetyChecker(cfg).eval()


def scheduler(config: dict):
    """A scheduler from a real repo's config dict, dropping keys the class no longer uses (ch. 1)."""

    import diffusers

    cfg = dict(config)
    cls = getattr(diffusers, cfg.pop("_class_name"))
    return cls.from_config(cfg)  # like loading the real file: keys the class no longer uses are dropped


# ---------------------------------------------------------------- full-size components


def full_component(repo: str, folder: str):
    """A random-weight component with the real checkpoint's exact config from full_size.json (ch. 1)."""
    import diffusers
    import transformers

    entry = full_size_configs()[repo][folder]
    cfg = dict(entry["config"])
    cls_name = entry["class"]
    _seed(f"full:{repo}/{folder}")
    if cls_name == "StableDiffusionSafetyChecker":
        from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

        return StableDiffusionSafetyChecker(transformers.CLIPConfig(**cfg)).eval()
    if entry["library"] == "diffusers":
        cfg.pop("_class_name", None)
        return getattr(diffusers, cls_name).from_config(cfg).eval()
    config_cls = transformers.CLIPVisionConfig if "Vision" in cls_name else transformers.CLIPTextConfig
    return getattr(transformers, cls_name)(config_cls(**cfg)).eval()


def _part(size: str, repo: str, folder: str, tiny):
    """The tiny twin's component (from the `tiny` recipe) or the full-size one for `repo`/`folder`."""
    if size == "full":
        return full_component(repo, folder)
    return tiny()


# ---------------------------------------------------------------- pipelines


def build_sd15(repo: str, tok_dir: Path, size: str = "tiny"):
    """SD 1.5-family twin (base, fine-tunes, inpainting), sharing one VAE like the real ones (ch. 1)."""

    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    facts = FACTS[repo]
    cls = StableDiffusionInpaintPipeline if facts["unet_in"] == 9 else StableDiffusionPipeline
    return cls(
        # all SD 1.x fine-tunes in the chapter share SD 1.5's VAE, so the twins share one too
        vae=_part(size, repo, "vae", lambda: vae("sd15-vae")),
        text_encoder=_part(size, repo, "text_encoder", lambda: text_encoder("CLIPTextModel", CLIP_L)),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=_part(size, repo, "unet", lambda: sd_unet(f"{repo}/unet", in_channels=facts["unet_in"])),
        scheduler=scheduler(facts["scheduler"]),
        safety_checker=_part(size, repo, "safety_checker", lambda: safety_checker("sd15-safety")),
        feature_extractor=image_processor(),
        requires_safety_checker=True,
    )


def _sdxl_unet(repo: str, in_channels: int, cross_dim: int, aesthetics: bool):
    time_dim = 8
    n_ids = 5 if aesthetics else 6  # (orig size, crop, aesthetic score) vs (orig size, crop, target size)
    return sd_unet(
        f"{repo}/unet", in_channels=in_channels, sample_size=128, cross_dim=cross_dim,
        addition_embed_type="text_time", addition_time_embed_dim=time_dim,
        projection_class_embeddings_input_dim=n_ids * time_dim + TEXT_DIM,
    )


def build_sdxl_refiner(repo: str, tok_dir: Path, tok_bang_dir: Path, size: str = "tiny"):
    """SDXL refiner twin: second text encoder only, aesthetic-score time ids (ch. 2)."""

    from diffusers import StableDiffusionXLImg2ImgPipeline
    from transformers import CLIPTokenizer

    return StableDiffusionXLImg2ImgPipeline(
        vae=_part(size, repo, "vae", lambda: vae("sdxl-vae", scaling_factor=0.13025, force_upcast=True)),
        text_encoder=None, tokenizer=None,
        text_encoder_2=_part(size, repo, "text_encoder_2",
                             lambda: text_encoder("CLIPTextModelWithProjection", CLIP_BIGG, pad_token_id=0)),
        tokenizer_2=CLIPTokenizer.from_pretrained(tok_bang_dir),
        unet=_part(size, repo, "unet", lambda: _sdxl_unet(repo, 4, TEXT_DIM, aesthetics=True)),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        requires_aesthetics_score=True, force_zeros_for_empty_prompt=False,
    )


def build_sdxl_inpaint(repo: str, tok_dir: Path, tok_bang_dir: Path):
    """SDXL inpainting twin: two text encoders, 9-channel UNet (ch. 5)."""

    from diffusers import StableDiffusionXLInpaintPipeline
    from transformers import CLIPTokenizer

    return StableDiffusionXLInpaintPipeline(
        vae=vae("sdxl-vae", scaling_factor=0.13025, force_upcast=True),
        text_encoder=text_encoder("CLIPTextModel", CLIP_L),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        text_encoder_2=text_encoder("CLIPTextModelWithProjection", CLIP_BIGG, pad_token_id=0),
        tokenizer_2=CLIPTokenizer.from_pretrained(tok_bang_dir),
        # SDXL feeds both encoders' hidden states side by side to the UNet
        unet=_sdxl_unet(repo, 9, 2 * TEXT_DIM, aesthetics=False),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        requires_aesthetics_score=False, force_zeros_for_empty_prompt=True,
    )


def _movq():
    from diffusers import VQModel

    _seed("kandinsky-movq")
    return VQModel(
        in_channels=3, out_channels=3, latent_channels=4, vq_embed_dim=4, num_vq_embeddings=256,
        block_out_channels=[8, 8, 16, 16], layers_per_block=1, norm_num_groups=8, norm_type="group",
        down_block_types=["DownEncoderBlock2D"] * 3 + ["AttnDownEncoderBlock2D"],
        up_block_types=["AttnUpDecoderBlock2D"] + ["UpDecoderBlock2D"] * 3, sample_size=512,
    ).eval()


def _kandinsky_unet(repo: str, in_channels: int):
    from diffusers import UNet2DConditionModel

    _seed(f"{repo}/unet")
    return UNet2DConditionModel(
        sample_size=64, in_channels=in_channels, out_channels=8, layers_per_block=1, norm_num_groups=8,
        block_out_channels=UNET_CH,
        down_block_types=("ResnetDownsampleBlock2D", "ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn", cross_attention_dim=TEXT_DIM, attention_head_dim=8,
        encoder_hid_dim=TEXT_DIM, encoder_hid_dim_type="image_proj", addition_embed_type="image",
        resnet_time_scale_shift="scale_shift", class_embed_type=None,
    ).eval()


def build_kandinsky_decoder(repo: str, size: str = "tiny"):
    """Kandinsky 2.2 decoder or decoder-inpaint twin: UNet, DDPM scheduler, MoVQ (ch. 3, 5)."""

    from diffusers import KandinskyV22InpaintPipeline, KandinskyV22Pipeline

    facts = FACTS[repo]
    cls = KandinskyV22InpaintPipeline if facts["unet_in"] == 9 else KandinskyV22Pipeline
    return cls(unet=_part(size, repo, "unet", lambda: _kandinsky_unet(repo, facts["unet_in"])),
               scheduler=scheduler(facts["scheduler"]), movq=_part(size, repo, "movq", _movq))


def _tiny_prior(repo: str):
    from diffusers import PriorTransformer

    _seed(f"{repo}/prior")
    return PriorTransformer(
        num_attention_heads=2, attention_head_dim=8, num_layers=1, embedding_dim=TEXT_DIM, num_embeddings=77,
        additional_embeddings=4,
    ).eval()


def build_kandinsky_prior(repo: str, tok_dir: Path, size: str = "tiny"):
    """Kandinsky 2.2 prior twin: prior transformer, CLIP text and image encoders (ch. 3, 5)."""

    import torch
    from diffusers import KandinskyV22PriorPipeline
    from transformers import CLIPTokenizer

    prior = _part(size, repo, "prior", lambda: _tiny_prior(repo))
    # the real prior stores CLIP image-embedding statistics; keep them neutral
    dim = prior.config.embedding_dim
    prior.clip_mean = torch.nn.Parameter(torch.zeros(1, dim))
    prior.clip_std = torch.nn.Parameter(torch.ones(1, dim))
    return KandinskyV22PriorPipeline(
        prior=prior,
        image_encoder=_part(size, repo, "image_encoder", lambda: vision_encoder(f"{repo}/image_encoder")),
        text_encoder=_part(size, repo, "text_encoder",
                           lambda: text_encoder("CLIPTextModelWithProjection", f"{repo}/text_encoder")),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        image_processor=image_processor(),
    )


def _tiny_x2_unet(repo: str):
    from diffusers import UNet2DConditionModel

    _seed(f"{repo}/unet")
    return UNet2DConditionModel(
        sample_size=64, in_channels=8, out_channels=5, layers_per_block=1, act_fn="gelu", norm_num_groups=None,
        block_out_channels=(32, 32, 64, 64),
        down_block_types=("KDownBlock2D", "KDownBlock2D", "KDownBlock2D", "KCrossAttnDownBlock2D"),
        up_block_types=("KCrossAttnUpBlock2D", "KUpBlock2D", "KUpBlock2D", "KUpBlock2D"), mid_block_type=None,
        cross_attention_dim=TEXT_DIM,
        attention_head_dim=8, resnet_time_scale_shift="scale_shift", time_embedding_type="fourier",
        timestep_post_act="gelu", conv_in_kernel=1, conv_out_kernel=1,
        # the pipeline conditions on 128 noise-level features plus the pooled prompt
        time_cond_proj_dim=128 + TEXT_DIM,
    ).eval()


def build_x2(repo: str, tok_dir: Path, size: str = "tiny"):
    """x2 latent upscaler twin with the K-diffusion UNet layout (ch. 3)."""

    from diffusers import StableDiffusionLatentUpscalePipeline
    from transformers import CLIPTokenizer

    unet = _part(size, repo, "unet", lambda: _tiny_x2_unet(repo))
    return StableDiffusionLatentUpscalePipeline(
        vae=_part(size, repo, "vae", lambda: vae("sd15-vae")),
        text_encoder=_part(size, repo, "text_encoder", lambda: text_encoder("CLIPTextModel", CLIP_L)),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet,
        scheduler=scheduler(FACTS[repo]["scheduler"]),
    )


def _tiny_x4_unet(repo: str):
    from diffusers import UNet2DConditionModel

    _seed(f"{repo}/unet")
    return UNet2DConditionModel(
        sample_size=128, in_channels=7, out_channels=4, layers_per_block=1, block_out_channels=UNET_CH,
        down_block_types=PLAIN, up_block_types=PLAIN_UP,
        cross_attention_dim=TEXT_DIM, attention_head_dim=8, num_class_embeds=1000, norm_num_groups=8,
    ).eval()


def build_x4(repo: str, tok_dir: Path, size: str = "tiny"):
    """x4 upscaler twin: 7-channel UNet, 3-block VAE (4x downsampling), two schedulers (ch. 3)."""

    from diffusers import StableDiffusionUpscalePipeline
    from transformers import CLIPTokenizer

    unet = _part(size, repo, "unet", lambda: _tiny_x4_unet(repo))
    return StableDiffusionUpscalePipeline(
        vae=_part(size, repo, "vae", lambda: vae(f"{repo}/vae", blocks=3, scaling_factor=0.08333)),
        text_encoder=_part(size, repo, "text_encoder", lambda: text_encoder("CLIPTextModel", CLIP_H)),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet,
        low_res_scheduler=scheduler(FACTS[repo]["low_res_scheduler"]),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        max_noise_level=350,
    )


def build_controlnet(repo: str, size: str = "tiny"):
    """Depth ControlNet twin whose blocks line up with the SD 1.5 twin's UNet (ch. 4)."""

    from diffusers import ControlNetModel

    if size == "full":
        return full_component(repo, "")

    _seed(f"{repo}/controlnet")
    return ControlNetModel(
        in_channels=4, conditioning_channels=3, layers_per_block=1, block_out_channels=UNET_CH,
        down_block_types=PLAIN, cross_attention_dim=TEXT_DIM,
        attention_head_dim=8, norm_num_groups=8, conditioning_embedding_out_channels=(8, 8, 16, 16),
    ).eval()


def build_tiny_vae(repo: str):
    """Distilled tiny VAE twin (AutoencoderTiny) with the real latent channels and scaling (ch. 1)."""

    from diffusers import AutoencoderTiny

    _seed(f"{repo}/vae")
    return AutoencoderTiny(
        encoder_block_out_channels=(8, 8, 8, 8), decoder_block_out_channels=(8, 8, 8, 8),
        num_encoder_blocks=(1, 1, 1, 1), num_decoder_blocks=(1, 1, 1, 1), latent_channels=4, scaling_factor=1.0,
    ).eval()


def _portable_init(model, seed: str) -> None:
    """Refill every parameter from numpy's seeded generator, the same on every torch version.

    transformers initialises Dinov2 with torch's truncated normal, whose draws changed between torch releases, so
    the depth twin's weights (and every printed depth fingerprint) would differ by torch version. The scale keeps
    activations O(1) through neck and head: the default init shrinks them to ~1e-8, where the normalised depth map
    is rounding noise. Norm weights and layer scales start at 1, biases at 0, tokens at std 0.02.
    """
    import numpy as np
    import torch

    rng = np.random.RandomState(int(hashlib.sha256(seed.encode()).hexdigest()[:8], 16))
    with torch.no_grad():
        for name, param in model.named_parameters():
            if param.dim() == 1:
                values = np.zeros(param.shape) if name.endswith("bias") else np.ones(param.shape)
            else:
                fan_in = int(np.prod(param.shape[1:]))
                std = 0.02 if param.shape[0] == 1 and fan_in > 8 else (2.0 / fan_in) ** 0.5
                values = rng.standard_normal(param.shape) * std
            param.copy_(torch.from_numpy(values.astype(np.float32)))


def build_depth(repo: str):
    """Tiny Depth Anything V2 model and its real image processor settings (ch. 4)."""

    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    _seed(f"{repo}/model")
    backbone = Dinov2Config(
        hidden_size=TEXT_DIM, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, patch_size=14,
        image_size=518, out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False,
    )
    cfg = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=TEXT_DIM, patch_size=14, fusion_hidden_size=16,
        neck_hidden_sizes=[8, 16, 32, 32], head_hidden_size=8, depth_estimation_type="relative",
    )
    model = DepthAnythingForDepthEstimation(cfg).eval()
    _portable_init(model, f"{repo}/model")
    processor = DPTImageProcessor(
        do_resize=True, size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14,
        resample=3, do_rescale=True, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225], do_pad=False,
    )
    return model, processor


# ---------------------------------------------------------------- saving into a hub cache


def builder_version(size: str = "tiny") -> str:
    """The version of the recipe that builds twins of this size (ch. 1)."""
    return BUILDER_VERSION if size == "tiny" else FULL_BUILDER_VERSION


def commit_hash(repo: str, size: str = "tiny") -> str:
    """A fixed 40-hex revision per twin, so refs/main is the same on every build (ch. 1)."""
    tag = f"twin:{repo}:{BUILDER_VERSION}" if size == "tiny" else f"twin-full:{repo}:{FULL_BUILDER_VERSION}"
    return hashlib.sha1(tag.encode()).hexdigest()


def _readme(repo: str, size: str = "tiny") -> str:
    lines = ["---", "tags:", "- twin", "- random-weights"]
    prior = FACTS.get(repo, {}).get("connected_prior")
    if prior:
        lines += ["prior:", f"- {prior}"]  # diffusers loads the prior from here for the combined pipelines
    lines += ["---", "", f"# TWIN of {repo}", "",
              ("Tiny random weights" if size == "tiny" else "Full-size random weights (the real architecture)")
              + " that mirror the real checkpoint's classes, configs and file layout.",
              "Images made with it are noise. Built by `python -m helpers.twins`.", ""]
    return "\n".join(lines)


def _save(obj, folder: Path, fp16: bool, in_place: bool = False) -> None:
    """save_pretrained in fp32 safetensors and, when `fp16`, the *.fp16.safetensors variant files too.

    `match_record` then turns this superset into exactly the real repo's files. With in_place=True (full size,
    where a second copy would not fit in memory) the fp32 files are written first, the model is then cast to fp16
    in place, and the fp32 run's JSON files are put back afterwards.
    """
    import torch

    if fp16 and in_place:
        obj.save_pretrained(folder, safe_serialization=True)
        configs = {p: p.read_text() for p in folder.rglob("*.json")}
        obj.to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
        for p, text in configs.items():  # the real configs say float32
            p.write_text(text)
        return
    if fp16:  # cast a copy: a round trip through fp16 would change the fp32 weights
        copy.deepcopy(obj).to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
    # fp32 last: transformers records the dtype in config.json, and the real configs say float32
    obj.save_pretrained(folder, safe_serialization=True)


# diffusers names weights diffusion_pytorch_model.*, transformers model.* (safetensors) and pytorch_model.* (pickle)
_PICKLE_STEM = {"model": "pytorch_model", "diffusion_pytorch_model": "diffusion_pytorch_model"}


def _source_for(folder: Path, name: str) -> Path | None:
    """The safetensors file a recorded weight file is made from: same stem family, same precision."""
    match = WEIGHT_NAME.match(name)
    if match is None:
        return None
    variant = match.group("variant")
    precision = ".fp16" if variant == "fp16" else ""  # non_ema and other variants carry the fp32 weights
    for stem, pickle_stem in _PICKLE_STEM.items():
        if match.group("stem") in (stem, pickle_stem):
            candidate = folder / f"{stem}{precision}.safetensors"
            if candidate.is_file():
                return candidate
    return None


def match_record(repo: str, snapshot: Path, size: str = "tiny") -> None:
    """Make the snapshot's weight files exactly the real repo's recorded ones: derive missing ones, drop extras (ch. 1).

    Tiny twins get every recorded file: pickle copies (`.bin`, written by this builder from its own tensors, so
    they are safe to load), non-EMA copies and fp16 variants. Full-size twins, built only to measure speed, get
    the recorded safetensors files and leave out the pickle copies, which would double gigabytes of disk.
    """
    import torch
    from safetensors.torch import load_file

    wanted = set(recorded_files(repo))
    for folder in sorted({p.parent for p in snapshot.rglob("*") if p.is_file()} | {snapshot}):
        rel = "" if folder == snapshot else folder.relative_to(snapshot).as_posix()
        names = [w.rpartition("/")[2] for w in wanted if w.rpartition("/")[0] == rel]
        built = [p for p in folder.iterdir() if p.is_file() and WEIGHT_NAME.match(p.name)]
        if not built:
            continue
        for name in sorted(names):
            target = folder / name
            if target.is_file() or (size == "full" and name.endswith(".bin")):
                continue
            source = _source_for(folder, name)
            if source is None:
                raise TwinBuildError(f"{repo}: cannot make {rel}/{name} for the twin: no matching safetensors was "
                                     "built. The recipe and helpers/manifests.json disagree.")
            if name.endswith(".safetensors"):  # e.g. non_ema: the same tensors under the variant's name
                try:
                    os.link(source, target)  # no second copy on disk (full-size files are gigabytes)
                except OSError:
                    shutil.copyfile(source, target)
            else:
                torch.save(load_file(source), target)
        for path in built:
            if path.name not in names:
                path.unlink()  # the real repo has no such file: a twin must not offer it either


def _git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def write_tree_listing(repo_root: Path, revision: str, snapshot: Path) -> None:
    """Write the hub's cached tree listing (trees/<revision>.json) for a snapshot, as a real download leaves it (ch. 1).

    Offline, diffusers reads this listing to pick files exactly as it would online; without it, a variant the repo
    lacks would go unnoticed.
    """
    files = {p.relative_to(snapshot).as_posix(): {"size": p.stat().st_size, "blob_id": _git_blob_id(p)}
             for p in sorted(snapshot.rglob("*")) if p.is_file()}
    trees = repo_root / "trees"
    trees.mkdir(exist_ok=True)
    (trees / f"{revision}.json").write_text(json.dumps({"format_version": 1, "files": files}, indent=1) + "\n")


def _recipe(repo: str, tok_dir: Path, tok_bang_dir: Path, size: str):
    kind = MODELS[repo].pipeline
    if kind == "StableDiffusionXLImg2ImgPipeline":
        return build_sdxl_refiner(repo, tok_dir, tok_bang_dir, size)
    if kind == "StableDiffusionXLInpaintPipeline":
        return build_sdxl_inpaint(repo, tok_dir, tok_bang_dir)
    if kind in ("StableDiffusionPipeline", "StableDiffusionInpaintPipeline"):
        return build_sd15(repo, tok_dir, size)
    if kind in ("KandinskyV22Pipeline", "KandinskyV22InpaintPipeline"):
        return build_kandinsky_decoder(repo, size)
    if kind == "KandinskyV22PriorPipeline":
        return build_kandinsky_prior(repo, tok_dir, size)
    if kind == "StableDiffusionLatentUpscalePipeline":
        return build_x2(repo, tok_dir, size)
    if kind == "StableDiffusionUpscalePipeline":
        return build_x4(repo, tok_dir, size)
    if kind == "ControlNetModel":
        return build_controlnet(repo, size)
    if kind == "AutoencoderTiny":
        return build_tiny_vae(repo)
    raise TwinBuildError(f"no twin recipe for {repo} ({kind})")  # pragma: no cover - table and builder grow together


def build_one(repo: str, snapshot: Path, tok_dir: Path, tok_bang_dir: Path, size: str = "tiny") -> None:
    """Build one repo's twin into its snapshot folder, with README and twin.json marker (ch. 1)."""

    if size not in SIZES:
        raise ValueError(f"size={size!r} is not one of {SIZES}; pass size='tiny' or size='full'.")
    if size == "full" and repo not in full_size_configs():
        raise TwinBuildError(f"no full-size config is recorded for {repo}; full-size twins exist for: "
                             f"{', '.join(full_size_repos())}. Add its configs to {FULL_SIZE_FILE.name}.")
    fp16 = has_fp16_files(repo)
    if MODELS[repo].pipeline == "DepthAnythingForDepthEstimation":
        model, processor = build_depth(repo)
        _save(model, snapshot, fp16)
        processor.save_pretrained(snapshot)
    else:
        _save(_recipe(repo, tok_dir, tok_bang_dir, size), snapshot, fp16, in_place=size == "full")
    (snapshot / "README.md").write_text(_readme(repo, size))
    weights = "tiny random weights" if size == "tiny" else "full-size random weights (real architecture)"
    (snapshot / MARKER).write_text(json.dumps(
        {"twin": True, "repo_id": repo, "builder_version": builder_version(size), "size": size,
         "note": f"{weights}; images made with this model are noise"}, indent=2) + "\n")


def build_cache(dest: Path, src_dir: Path, repos=None, log=print, size: str = "tiny") -> Path:
    """Build every twin (or `repos`) into a fresh hub cache at `dest`, which must not exist yet (ch. 1)."""
    import diffusers
    import torch
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    if size == "tiny":  # tiny models gain nothing from more threads; full-size ones initialise faster
        torch.set_num_threads(max(1, min(4, os.cpu_count() or 1)))
    vocab, merges = clip_vocab(src_dir)
    dest.mkdir(parents=True)
    work = Path(tempfile.mkdtemp(prefix="tok-", dir=dest))
    tok_dir, tok_bang_dir = work / "clip", work / "clip-bang"
    save_tokenizer(tok_dir, vocab, merges)
    save_tokenizer(tok_bang_dir, vocab, merges, pad_token="!")  # SDXL's second tokenizer pads with "!"
    for repo in repos or list(MODELS):
        org, name = repo.split("/")
        root = dest / f"models--{org}--{name}"
        rev = commit_hash(repo, size)
        snapshot = root / "snapshots" / rev
        snapshot.mkdir(parents=True)
        (root / "refs").mkdir()
        (root / "refs" / "main").write_text(rev)
        build_one(repo, snapshot, tok_dir, tok_bang_dir, size)
        match_record(repo, snapshot, size)
        _tidy_snapshot(snapshot)
        write_tree_listing(root, rev, snapshot)
        log(f"  {'twin' if size == 'tiny' else 'full-size twin'} {repo}")
    shutil.rmtree(work)
    if size == "tiny":  # full-size repos share no files worth hashing gigabytes for
        dedupe(dest)
    return dest


def _tidy_snapshot(snapshot: Path) -> None:
    """Write files as the real repos have them, independent of how and where the builder ran."""
    index = snapshot / "model_index.json"
    if index.is_file():  # transformers names its PIL fallback here when torchvision is missing
        index.write_text(index.read_text().replace('"CLIPImageProcessorPil"', '"CLIPImageProcessor"'))
    for cfg in snapshot.rglob("tokenizer_config.json"):  # loader flags of the build, not of the tokenizer
        data = json.loads(cfg.read_text())
        for key in ("is_local", "local_files_only", "name_or_path"):
            data.pop(key, None)
        cfg.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def dedupe(cache: Path) -> int:
    """Hard-link identical files (shared VAEs, encoders, tokenizers), as the hub's blob store would (ch. 1)."""
    seen: dict[str, Path] = {}
    saved = 0
    for p in sorted(cache.rglob("*")):
        if not p.is_file() or p.stat().st_size < 4096:
            continue
        digest = hashlib.sha256(p.read_bytes()).hexdigest()
        if digest in seen and seen[digest].stat().st_ino == p.stat().st_ino:
            continue  # already one file (rename onto a hard link of itself would leave the temporary name behind)
        if digest in seen:
            tmp = p.with_name(p.name + ".link")
            try:
                os.link(seen[digest], tmp)
            except OSError:
                continue  # no hard links on this file system: keep the copy
            os.replace(tmp, p)
            saved += p.stat().st_size
        else:
            seen[digest] = p
    return saved


def manifest(cache: Path) -> dict[str, str]:
    """sha256 of every file in a twin cache by relative path, to prove builds are deterministic (ch. 1)."""
    out = {}
    for p in sorted(cache.rglob("*")):
        if p.is_file():
            out[str(p.relative_to(cache))] = hashlib.sha256(p.read_bytes()).hexdigest()
    return out
