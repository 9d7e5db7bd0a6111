"""Build the twin hub cache: tiny, seeded, random-weight copies of every checkpoint the chapter loads.

A twin keeps what a caller can see (classes, scheduler config, channels, VAE scale factor, default
size, tokenizer, which fp16 files exist) and shrinks everything else. See `facts.py` for the table.
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

from helpers.models import MODELS
from helpers.twins.facts import FACTS

# Bump when the twins change: an older cache is then rebuilt.
BUILDER_VERSION = "7"
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


# ---------------------------------------------------------------- pipelines


def build_sd15(repo: str, tok_dir: Path):
    """SD 1.5-family twin (base, fine-tunes, inpainting), sharing one VAE like the real ones (ch. 1)."""

    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    facts = FACTS[repo]
    cls = StableDiffusionInpaintPipeline if facts["unet_in"] == 9 else StableDiffusionPipeline
    return cls(
        # all SD 1.x fine-tunes in the chapter share SD 1.5's VAE, so the twins share one too
        vae=vae("sd15-vae"),
        text_encoder=text_encoder("CLIPTextModel", CLIP_L),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=sd_unet(f"{repo}/unet", in_channels=facts["unet_in"]),
        scheduler=scheduler(facts["scheduler"]),
        safety_checker=safety_checker("sd15-safety"),
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


def build_sdxl_refiner(repo: str, tok_dir: Path, tok_bang_dir: Path):
    """SDXL refiner twin: second text encoder only, aesthetic-score time ids (ch. 2)."""

    from diffusers import StableDiffusionXLImg2ImgPipeline
    from transformers import CLIPTokenizer

    return StableDiffusionXLImg2ImgPipeline(
        vae=vae("sdxl-vae", scaling_factor=0.13025, force_upcast=True),
        text_encoder=None, tokenizer=None,
        text_encoder_2=text_encoder("CLIPTextModelWithProjection", CLIP_BIGG, pad_token_id=0),
        tokenizer_2=CLIPTokenizer.from_pretrained(tok_bang_dir),
        unet=_sdxl_unet(repo, 4, TEXT_DIM, aesthetics=True),
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


def build_kandinsky_decoder(repo: str):
    """Kandinsky 2.2 decoder or decoder-inpaint twin: UNet, DDPM scheduler, MoVQ (ch. 3, 5)."""

    from diffusers import KandinskyV22InpaintPipeline, KandinskyV22Pipeline

    facts = FACTS[repo]
    cls = KandinskyV22InpaintPipeline if facts["unet_in"] == 9 else KandinskyV22Pipeline
    return cls(unet=_kandinsky_unet(repo, facts["unet_in"]), scheduler=scheduler(facts["scheduler"]), movq=_movq())


def build_kandinsky_prior(repo: str, tok_dir: Path):
    """Kandinsky 2.2 prior twin: prior transformer, CLIP text and image encoders (ch. 3, 5)."""

    import torch
    from diffusers import KandinskyV22PriorPipeline, PriorTransformer
    from transformers import CLIPTokenizer

    _seed(f"{repo}/prior")
    prior = PriorTransformer(
        num_attention_heads=2, attention_head_dim=8, num_layers=1, embedding_dim=TEXT_DIM, num_embeddings=77,
        additional_embeddings=4,
    ).eval()
    # the real prior stores CLIP image-embedding statistics; keep them neutral
    prior.clip_mean = torch.nn.Parameter(torch.zeros(1, TEXT_DIM))
    prior.clip_std = torch.nn.Parameter(torch.ones(1, TEXT_DIM))
    return KandinskyV22PriorPipeline(
        prior=prior,
        image_encoder=vision_encoder(f"{repo}/image_encoder"),
        text_encoder=text_encoder("CLIPTextModelWithProjection", f"{repo}/text_encoder"),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        image_processor=image_processor(),
    )


def build_x2(repo: str, tok_dir: Path):
    """x2 latent upscaler twin with the K-diffusion UNet layout (ch. 3)."""

    from diffusers import StableDiffusionLatentUpscalePipeline, UNet2DConditionModel
    from transformers import CLIPTokenizer

    _seed(f"{repo}/unet")
    unet = UNet2DConditionModel(
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
    return StableDiffusionLatentUpscalePipeline(
        vae=vae("sd15-vae"),
        text_encoder=text_encoder("CLIPTextModel", CLIP_L),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet,
        scheduler=scheduler(FACTS[repo]["scheduler"]),
    )


def build_x4(repo: str, tok_dir: Path):
    """x4 upscaler twin: 7-channel UNet, 3-block VAE (4x downsampling), two schedulers (ch. 3)."""

    from diffusers import StableDiffusionUpscalePipeline, UNet2DConditionModel
    from transformers import CLIPTokenizer

    _seed(f"{repo}/unet")
    unet = UNet2DConditionModel(
        sample_size=128, in_channels=7, out_channels=4, layers_per_block=1, block_out_channels=UNET_CH,
        down_block_types=PLAIN, up_block_types=PLAIN_UP,
        cross_attention_dim=TEXT_DIM, attention_head_dim=8, num_class_embeds=1000, norm_num_groups=8,
    ).eval()
    return StableDiffusionUpscalePipeline(
        vae=vae(f"{repo}/vae", blocks=3, scaling_factor=0.08333),
        text_encoder=text_encoder("CLIPTextModel", CLIP_H),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet,
        low_res_scheduler=scheduler(FACTS[repo]["low_res_scheduler"]),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        max_noise_level=350,
    )


def build_controlnet(repo: str):
    """Tiny depth ControlNet whose blocks line up with the SD 1.5 twin's UNet (ch. 4)."""

    from diffusers import ControlNetModel

    _seed(f"{repo}/controlnet")
    return ControlNetModel(
        in_channels=4, conditioning_channels=3, layers_per_block=1, block_out_channels=UNET_CH,
        down_block_types=PLAIN, cross_attention_dim=TEXT_DIM,
        attention_head_dim=8, norm_num_groups=8, conditioning_embedding_out_channels=(8, 8, 16, 16),
    ).eval()


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
    processor = DPTImageProcessor(
        do_resize=True, size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14,
        resample=3, do_rescale=True, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225], do_pad=False,
    )
    return model, processor


# ---------------------------------------------------------------- saving into a hub cache


def commit_hash(repo: str) -> str:
    """A fixed 40-hex revision per twin, so refs/main is the same on every build (ch. 1)."""
    return hashlib.sha1(f"twin:{repo}:{BUILDER_VERSION}".encode()).hexdigest()


def _readme(repo: str) -> str:
    lines = ["---", "tags:", "- twin", "- random-weights"]
    prior = FACTS.get(repo, {}).get("connected_prior")
    if prior:
        lines += ["prior:", f"- {prior}"]  # diffusers loads the prior from here for the combined pipelines
    lines += ["---", "", f"# TWIN of {repo}", "",
              "Tiny random weights that mirror the real checkpoint's classes, configs and file layout.",
              "Images made with it are noise. Built by `python -m helpers.twins`.", ""]
    return "\n".join(lines)


def _save(obj, folder: Path, fp16: bool) -> None:
    """save_pretrained in fp32 and, where the real repo ships them, the *.fp16.* variant files too."""
    import torch

    if fp16:  # cast a copy: a round trip through fp16 would change the fp32 weights
        copy.deepcopy(obj).to(torch.float16).save_pretrained(folder, safe_serialization=True, variant="fp16")
    # fp32 last: transformers records the dtype in config.json, and the real configs say float32
    obj.save_pretrained(folder, safe_serialization=True)


def build_one(repo: str, snapshot: Path, tok_dir: Path, tok_bang_dir: Path) -> None:
    """Build one repo's twin into its snapshot folder, with README and twin.json marker (ch. 1)."""

    fp16 = MODELS[repo].fp16_variant
    kind = MODELS[repo].pipeline
    if kind == "StableDiffusionXLImg2ImgPipeline":
        _save(build_sdxl_refiner(repo, tok_dir, tok_bang_dir), snapshot, fp16)
    elif kind == "StableDiffusionXLInpaintPipeline":
        _save(build_sdxl_inpaint(repo, tok_dir, tok_bang_dir), snapshot, fp16)
    elif kind in ("StableDiffusionPipeline", "StableDiffusionInpaintPipeline"):
        _save(build_sd15(repo, tok_dir), snapshot, fp16)
    elif kind in ("KandinskyV22Pipeline", "KandinskyV22InpaintPipeline"):
        _save(build_kandinsky_decoder(repo), snapshot, fp16)
    elif kind == "KandinskyV22PriorPipeline":
        _save(build_kandinsky_prior(repo, tok_dir), snapshot, fp16)
    elif kind == "StableDiffusionLatentUpscalePipeline":
        _save(build_x2(repo, tok_dir), snapshot, fp16)
    elif kind == "StableDiffusionUpscalePipeline":
        _save(build_x4(repo, tok_dir), snapshot, fp16)
    elif kind == "ControlNetModel":
        _save(build_controlnet(repo), snapshot, fp16)
    elif kind == "DepthAnythingForDepthEstimation":
        model, processor = build_depth(repo)
        _save(model, snapshot, fp16)
        processor.save_pretrained(snapshot)
    else:  # pragma: no cover - the table and the builder must grow together
        raise TwinBuildError(f"no twin recipe for {repo} ({kind})")
    (snapshot / "README.md").write_text(_readme(repo))
    (snapshot / MARKER).write_text(json.dumps(
        {"twin": True, "repo_id": repo, "builder_version": BUILDER_VERSION,
         "note": "tiny random weights; images made with this model are noise"}, indent=2) + "\n")


def build_cache(dest: Path, src_dir: Path, repos=None, log=print) -> Path:
    """Build every twin into a fresh hub cache at `dest`, which must not exist yet (ch. 1)."""
    import diffusers
    import torch
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
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
        rev = commit_hash(repo)
        snapshot = root / "snapshots" / rev
        snapshot.mkdir(parents=True)
        (root / "refs").mkdir()
        (root / "refs" / "main").write_text(rev)
        build_one(repo, snapshot, tok_dir, tok_bang_dir)
        _tidy_snapshot(snapshot)
        log(f"  twin {repo}")
    shutil.rmtree(work)
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
