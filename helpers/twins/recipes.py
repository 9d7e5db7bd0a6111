"""Recipes: which tiny components make up each checkpoint's twin, one function per family.

Each recipe takes an optional `part(repo, folder)` that supplies a component in place of the tiny one (the
maintainer's full-size twins use it to put in the real architectures); without it, every part is tiny.
"""

from __future__ import annotations

from pathlib import Path

from helpers.checkpoints import CHECKPOINTS
from helpers.twins import TwinBuildError
from helpers.twins.facts import FACTS
from helpers.twins.parts import (
    CLIP_BIGG,
    CLIP_H,
    CLIP_L,
    PLAIN,
    TEXT_DIM,
    WIDE_CH,
    image_processor,
    kandinsky_unet,
    learned,
    movq,
    portable_init,
    prior_transformer,
    safety_checker,
    scheduler,
    sd_unet,
    sdxl_unet,
    seed_torch,
    taught,
    text_encoder,
    vae,
    vision_encoder,
    x2_unet,
    x4_unet,
)


def _part(part, repo: str, folder: str, tiny):
    """The component `part` supplies for `repo`/`folder`, or, without `part`, the tiny one `tiny()` makes."""
    return part(repo, folder) if part else tiny()


def build_sd15(repo: str, tok_dir: Path, part=None):
    """SD 1.5-family twin (base, fine-tunes, inpainting), sharing one VAE like the real ones (ch. 1)."""

    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionPipeline
    from transformers import CLIPTokenizer

    facts = FACTS[repo]
    cls = StableDiffusionInpaintPipeline if facts["unet_in"] == 9 else StableDiffusionPipeline
    return cls(
        # all SD 1.x fine-tunes in the chapter share SD 1.5's VAE, so the twins share one too
        vae=_part(part, repo, "vae", lambda: vae("sd15-vae")),
        text_encoder=_part(part, repo, "text_encoder", lambda: text_encoder("CLIPTextModel", CLIP_L)),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=_part(part, repo, "unet", lambda: taught(repo, sd_unet(f"{repo}/unet", in_channels=facts["unet_in"]))),
        scheduler=scheduler(facts["scheduler"]),
        safety_checker=_part(part, repo, "safety_checker", lambda: safety_checker("sd15-safety")),
        feature_extractor=image_processor(),
        requires_safety_checker=True,
    )


def build_sdxl_refiner(repo: str, tok_dir: Path, tok_bang_dir: Path, part=None):
    """SDXL refiner twin: second text encoder only, aesthetic-score time ids (ch. 2)."""

    from diffusers import StableDiffusionXLImg2ImgPipeline
    from transformers import CLIPTokenizer

    return StableDiffusionXLImg2ImgPipeline(
        vae=_part(part, repo, "vae", lambda: vae("sdxl-vae", scaling_factor=0.13025, force_upcast=True)),
        text_encoder=None, tokenizer=None,
        text_encoder_2=_part(part, repo, "text_encoder_2",
                             lambda: text_encoder("CLIPTextModelWithProjection", CLIP_BIGG, pad_token_id=0)),
        tokenizer_2=CLIPTokenizer.from_pretrained(tok_bang_dir),
        unet=_part(part, repo, "unet", lambda: taught(repo, sdxl_unet(repo, 4, TEXT_DIM, aesthetics=True))),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        requires_aesthetics_score=True, force_zeros_for_empty_prompt=False,
    )


def build_sdxl_inpaint(repo: str, tok_dir: Path, tok_bang_dir: Path, part=None):
    """SDXL inpainting twin: two text encoders, 9-channel UNet (ch. 5)."""

    from diffusers import StableDiffusionXLInpaintPipeline
    from transformers import CLIPTokenizer

    return StableDiffusionXLInpaintPipeline(
        vae=_part(part, repo, "vae", lambda: vae("sdxl-vae", scaling_factor=0.13025, force_upcast=True)),
        text_encoder=_part(part, repo, "text_encoder", lambda: text_encoder("CLIPTextModel", CLIP_L)),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        text_encoder_2=_part(part, repo, "text_encoder_2",
                             lambda: text_encoder("CLIPTextModelWithProjection", CLIP_BIGG, pad_token_id=0)),
        tokenizer_2=CLIPTokenizer.from_pretrained(tok_bang_dir),
        # SDXL feeds both encoders' hidden states side by side to the UNet
        unet=_part(part, repo, "unet", lambda: taught(repo, sdxl_unet(repo, 9, 2 * TEXT_DIM, aesthetics=False))),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        requires_aesthetics_score=False, force_zeros_for_empty_prompt=True,
    )


def build_kandinsky_decoder(repo: str, part=None):
    """Kandinsky 2.2 decoder or decoder-inpaint twin: UNet, DDPM scheduler, MoVQ (ch. 3, 5)."""

    from diffusers import KandinskyV22InpaintPipeline, KandinskyV22Pipeline

    facts = FACTS[repo]
    cls = KandinskyV22InpaintPipeline if facts["unet_in"] == 9 else KandinskyV22Pipeline
    return cls(unet=_part(part, repo, "unet", lambda: taught(repo, kandinsky_unet(repo, facts["unet_in"]))),
               scheduler=scheduler(facts["scheduler"]), movq=_part(part, repo, "movq", movq))


def build_kandinsky_prior(repo: str, tok_dir: Path, part=None):
    """Kandinsky 2.2 prior twin: prior transformer, CLIP text and image encoders (ch. 3, 5)."""

    import torch
    from diffusers import KandinskyV22PriorPipeline
    from transformers import CLIPTokenizer

    prior = _part(part, repo, "prior", lambda: prior_transformer(repo))
    # the real prior stores CLIP image-embedding statistics; keep them neutral
    dim = prior.config.embedding_dim
    prior.clip_mean = torch.nn.Parameter(torch.zeros(1, dim))
    prior.clip_std = torch.nn.Parameter(torch.ones(1, dim))
    return KandinskyV22PriorPipeline(
        prior=prior,
        image_encoder=_part(part, repo, "image_encoder", lambda: vision_encoder(f"{repo}/image_encoder")),
        text_encoder=_part(part, repo, "text_encoder",
                           lambda: text_encoder("CLIPTextModelWithProjection", f"{repo}/text_encoder")),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        image_processor=image_processor(),
    )


def build_x2(repo: str, tok_dir: Path, part=None):
    """x2 latent upscaler twin with the K-diffusion UNet layout (ch. 3)."""

    from diffusers import StableDiffusionLatentUpscalePipeline
    from transformers import CLIPTokenizer

    unet = _part(part, repo, "unet", lambda: taught(repo, x2_unet(repo)))
    return StableDiffusionLatentUpscalePipeline(
        vae=_part(part, repo, "vae", lambda: vae("sd15-vae")),
        text_encoder=_part(part, repo, "text_encoder", lambda: text_encoder("CLIPTextModel", CLIP_L)),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet,
        scheduler=scheduler(FACTS[repo]["scheduler"]),
    )


def build_x4(repo: str, tok_dir: Path, part=None):
    """x4 upscaler twin: 7-channel UNet, 3-block VAE (4x downsampling), two schedulers (ch. 3)."""

    from diffusers import StableDiffusionUpscalePipeline
    from transformers import CLIPTokenizer

    unet = _part(part, repo, "unet", lambda: taught(repo, x4_unet(repo)))
    return StableDiffusionUpscalePipeline(
        vae=_part(part, repo, "vae", lambda: vae(f"{repo}/vae", blocks=3, scaling_factor=0.08333)),
        text_encoder=_part(part, repo, "text_encoder", lambda: text_encoder("CLIPTextModel", CLIP_H)),
        tokenizer=CLIPTokenizer.from_pretrained(tok_dir),
        unet=unet,
        low_res_scheduler=scheduler(FACTS[repo]["low_res_scheduler"]),
        scheduler=scheduler(FACTS[repo]["scheduler"]),
        max_noise_level=350,
    )


def build_controlnet(repo: str, part=None, taught_weights: bool = True):
    """Depth ControlNet twin whose blocks line up with the SD 1.5 twin's UNet, taught to follow depth maps (ch. 4)."""

    from diffusers import ControlNetModel

    if part:
        return part(repo, "")

    seed_torch(f"{repo}/controlnet")
    model = ControlNetModel(
        in_channels=4, conditioning_channels=3, layers_per_block=1, block_out_channels=WIDE_CH,
        down_block_types=PLAIN, cross_attention_dim=TEXT_DIM,
        attention_head_dim=8, norm_num_groups=2, conditioning_embedding_out_channels=(8, 8, 16, 16),
    ).eval()
    return learned(model, "controlnet-depth") if taught_weights else model


# the checkpoint whose twin VAE each tiny autoencoder's twin matches (TAESD: SD 1.x/2.x latents; TAESDXL: SDXL's)
TINY_VAE_PARTNER = {"madebyollin/taesd": "stable-diffusion-v1-5/stable-diffusion-v1-5",
                    "madebyollin/taesdxl": "stabilityai/stable-diffusion-xl-refiner-1.0"}


def build_tiny_vae(repo: str):
    """Distilled tiny VAE twin (AutoencoderTiny), set by hand to its family's twin VAE codec (ch. 1)."""

    from diffusers import AutoencoderTiny

    from helpers.twins.codec import latent_gains
    from helpers.twins.tiny_codec import set_tiny_codec_weights, tiny_codec_config

    model = AutoencoderTiny(
        latent_channels=FACTS[repo]["latent_channels"], scaling_factor=FACTS[repo]["scaling_factor"],
        **tiny_codec_config(),
    ).eval()
    scaling = FACTS[TINY_VAE_PARTNER[repo]]["vae_scaling_factor"]
    set_tiny_codec_weights(model, scaling, latent_gains(scaling))
    return model


def build_depth(repo: str, taught_weights: bool = True):
    """Tiny Depth Anything V2 model, taught to read depth from scenes, and its real image processor settings (ch. 4)."""

    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    seed_torch(f"{repo}/model")
    backbone = Dinov2Config(
        hidden_size=TEXT_DIM, num_hidden_layers=4, num_attention_heads=2, intermediate_size=64, patch_size=14,
        image_size=518, out_features=["stage1", "stage2", "stage3", "stage4"], reshape_hidden_states=False,
    )
    cfg = DepthAnythingConfig(
        backbone_config=backbone, reassemble_hidden_size=TEXT_DIM, patch_size=14, fusion_hidden_size=16,
        neck_hidden_sizes=[8, 16, 32, 32], head_hidden_size=8, depth_estimation_type="relative",
    )
    model = DepthAnythingForDepthEstimation(cfg).eval()
    portable_init(model, f"{repo}/model")  # the seeded start the training begins from
    if taught_weights:
        learned(model, "depth-anything")
    processor = DPTImageProcessor(
        do_resize=True, size={"height": 518, "width": 518}, keep_aspect_ratio=True, ensure_multiple_of=14,
        resample=3, do_rescale=True, do_normalize=True, image_mean=[0.485, 0.456, 0.406],
        image_std=[0.229, 0.224, 0.225], do_pad=False,
    )
    return model, processor


def pipeline_for(repo: str, tok_dir: Path, tok_bang_dir: Path, part=None):
    """The twin of `repo` as a pipeline or model, ready to save (ch. 1)."""
    kind = CHECKPOINTS[repo].pipeline
    if kind == "StableDiffusionXLImg2ImgPipeline":
        return build_sdxl_refiner(repo, tok_dir, tok_bang_dir, part)
    if kind == "StableDiffusionXLInpaintPipeline":
        return build_sdxl_inpaint(repo, tok_dir, tok_bang_dir, part)
    if kind in ("StableDiffusionPipeline", "StableDiffusionInpaintPipeline"):
        return build_sd15(repo, tok_dir, part)
    if kind in ("KandinskyV22Pipeline", "KandinskyV22InpaintPipeline"):
        return build_kandinsky_decoder(repo, part)
    if kind == "KandinskyV22PriorPipeline":
        return build_kandinsky_prior(repo, tok_dir, part)
    if kind == "StableDiffusionLatentUpscalePipeline":
        return build_x2(repo, tok_dir, part)
    if kind == "StableDiffusionUpscalePipeline":
        return build_x4(repo, tok_dir, part)
    if kind == "ControlNetModel":
        return build_controlnet(repo, part)
    if kind == "AutoencoderTiny":
        return build_tiny_vae(repo)
    raise TwinBuildError(f"no twin recipe for {repo} ({kind})")  # pragma: no cover - table and builder grow together
