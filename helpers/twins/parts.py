"""The twins' tiny components: seeded, with the real classes, channels and configs, and narrow inside.

The VAEs are set by hand to a colour-average codec (codec.py); the UNets load the committed weights that
tools/train_twins.py taught them; everything else keeps its seeded random weights.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from helpers.twins import TwinBuildError
from helpers.twins.codec import codec_config, latent_gains, set_codec_weights

TEXT_DIM = 32  # hidden size of every tiny text encoder (the real ones use 768 / 1024 / 1280)

# Real checkpoints that share a text encoder share it here too (seeds name the real encoder).
UNET_CH = (8, 16, 16)  # three levels, attention only on the smallest; the real UNets have four, from 320 up
# 9-channel inpainting UNets must carry the noisy latents and the masked picture's latents side by side from their
# first layer, to copy the kept area: 8 channels cannot hold both, so theirs are twice as wide. SD 1.5's other
# UNets and its ControlNet take the same widths, so that the depth ControlNet fits every SD 1.5-family twin, as it
# fits every real one.
WIDE_CH = (16, 32, 32)
PLAIN = ("DownBlock2D", "DownBlock2D", "CrossAttnDownBlock2D")
PLAIN_UP = ("CrossAttnUpBlock2D", "UpBlock2D", "UpBlock2D")
CLIP_L = "openai/clip-vit-large-patch14"  # SD 1.x and its fine-tunes, SD inpainting, x2 upscaler, SDXL's first
CLIP_H = "laion/CLIP-ViT-H-14"  # x4 upscaler (an SD 2 model)
CLIP_BIGG = "laion/CLIP-ViT-bigG-14"  # SDXL's second encoder

# The committed UNet weights (tools/train_twins.py writes them) and the twins that load each file
WEIGHTS = Path(__file__).with_name("weights")
TAUGHT: dict[str, tuple[str, ...]] = {
    "sd15-unet": ("stable-diffusion-v1-5/stable-diffusion-v1-5", "ogkalu/Comic-Diffusion", "kohbanye/pixel-art-style",
                  "nitrosocke/elden-ring-diffusion"),
    "sdxl-refiner-unet": ("stabilityai/stable-diffusion-xl-refiner-1.0",),
    "kandinsky-unet": ("kandinsky-community/kandinsky-2-2-decoder",),
    "sd15-inpaint-unet": ("stable-diffusion-v1-5/stable-diffusion-inpainting",),
    "sdxl-inpaint-unet": ("diffusers/stable-diffusion-xl-1.0-inpainting-0.1",),
    "kandinsky-inpaint-unet": ("kandinsky-community/kandinsky-2-2-decoder-inpaint",),
    "x4-unet": ("stabilityai/stable-diffusion-x4-upscaler",),
    "x2-unet": ("stabilityai/sd-x2-latent-upscaler",),
}


def seed_torch(name: str) -> None:
    """Seed torch from a name, so every component has its own fixed random start (ch. 1)."""
    import torch

    torch.manual_seed(int(hashlib.sha256(name.encode()).hexdigest()[:8], 16))


# CLIP token ids (the real vocabulary's) of the words the twins learned, in tools/twin_words.py's order. Each gets
# an axis of its own in the token embedding; every other token's row is zero, so every other word (and the empty
# prompt) reaches the model only through the positions it takes up: an unknown word means nothing to the twins,
# and a tiny UNet learns the few words in minutes.
WORD_TOKENS = {"jungle": 10865, "cold": 3153, "color": 3140, "palette": 13901, "castle": 3540, "watercolor": 14211,
               "sunset": 3424, "night": 930}
WORD_ROW_NORM = 1.0


def text_encoder(cls_name: str, seed: str, pad_token_id: int = 49407):
    """Tiny CLIP text encoder with the real vocabulary size and 77 positions (ch. 1)."""

    import torch
    import transformers

    seed_torch(seed)
    cfg = transformers.CLIPTextConfig(
        vocab_size=49408, hidden_size=TEXT_DIM, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        max_position_embeddings=77, projection_dim=TEXT_DIM, bos_token_id=49406, eos_token_id=49407,
        pad_token_id=pad_token_id, hidden_act="quick_gelu",
    )
    model = getattr(transformers, cls_name)(cfg).eval()
    with torch.no_grad():  # only the words the UNets learned (tools/twin_words.py) have a row: every other is 0
        rows = model.get_input_embeddings().weight
        rows.zero_()
        for axis, token_id in enumerate(WORD_TOKENS.values()):
            rows[token_id, axis] = WORD_ROW_NORM
    return model


def vision_encoder(seed: str):
    """Tiny CLIP vision encoder with projection, for the Kandinsky prior (ch. 3)."""

    import transformers

    seed_torch(seed)
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
    """Tiny AutoencoderKL with the real latent channels and factors, set by hand to a colour-average codec (ch. 1)."""

    from diffusers import AutoencoderKL

    seed_torch(seed)
    model = AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4, down_block_types=["DownEncoderBlock2D"] * blocks,
        up_block_types=["UpDecoderBlock2D"] * blocks, sample_size=512 if blocks == 4 else 256,
        scaling_factor=scaling_factor, force_upcast=force_upcast,
        mid_block_add_attention=False,  # full-resolution attention would dominate CPU time
        **codec_config(blocks),
    ).eval()
    set_codec_weights(model, latent_gains(scaling_factor))
    return model


# SD 1.x UNets read the prompt only through cross-attention; the twins' are too small to learn a word that way in
# minutes, so theirs also pool the prompt into the time embedding (diffusers' "text" additional embedding), which
# reaches every block. The call is unchanged: the pooling reads the same encoder_hidden_states.
SD_TEXT_POOL = {"addition_embed_type": "text", "addition_embed_type_num_heads": 4}


def sd_unet(seed: str, in_channels: int = 4, sample_size: int = 64, cross_dim: int = TEXT_DIM,
            channels: tuple[int, ...] = WIDE_CH, norm_groups: int = 2, **extra):
    """Tiny SD-style UNet with the real in/out channels and default sample size (ch. 1)."""

    from diffusers import UNet2DConditionModel

    if "addition_embed_type" not in extra:  # SD 1.x: the pooled prompt too (SDXL brings its own text_time)
        extra = {**SD_TEXT_POOL, **extra}
    seed_torch(seed)
    return UNet2DConditionModel(
        sample_size=sample_size, in_channels=in_channels, out_channels=4, layers_per_block=1,
        block_out_channels=channels, down_block_types=PLAIN,
        up_block_types=PLAIN_UP, cross_attention_dim=cross_dim, attention_head_dim=8,
        norm_num_groups=norm_groups, **extra,
    ).eval()


def sdxl_unet(repo: str, in_channels: int, cross_dim: int, aesthetics: bool):
    """Tiny SDXL UNet with the real in-channels and the text-and-time additional embedding (ch. 2, 5)."""
    time_dim = 8
    n_ids = 5 if aesthetics else 6  # (orig size, crop, aesthetic score) vs (orig size, crop, target size)
    return sd_unet(
        f"{repo}/unet", in_channels=in_channels, sample_size=128, cross_dim=cross_dim,
        channels=WIDE_CH if in_channels == 9 else UNET_CH, addition_embed_type="text_time",
        # two norm groups: a group norm takes out each group's mean, and small groups remove a word's uniform
        # colour (the refiner learns words); SDXL inpainting learns none, and keeps the groups it was trained with
        norm_groups=8 if in_channels == 9 else 2,
        addition_time_embed_dim=time_dim, projection_class_embeddings_input_dim=n_ids * time_dim + TEXT_DIM,
    )


def movq():
    """Tiny Kandinsky MoVQ, set by hand to the same colour-average codec as the twin VAEs (ch. 3)."""
    from diffusers import VQModel

    seed_torch("kandinsky-movq")
    model = VQModel(
        in_channels=3, out_channels=3, latent_channels=4, vq_embed_dim=4, num_vq_embeddings=256,
        norm_type="group", down_block_types=["DownEncoderBlock2D"] * 3 + ["AttnDownEncoderBlock2D"],
        up_block_types=["AttnUpDecoderBlock2D"] + ["UpDecoderBlock2D"] * 3, sample_size=512, **codec_config(4),
    ).eval()
    set_codec_weights(model, latent_gains(1.0))  # the pipelines use MoVQ latents unscaled
    return model


def kandinsky_unet(repo: str, in_channels: int):
    """Tiny Kandinsky 2.2 decoder UNet, conditioned on an image embedding (ch. 3, 5)."""
    from diffusers import UNet2DConditionModel

    seed_torch(f"{repo}/unet")
    return UNet2DConditionModel(
        sample_size=64, in_channels=in_channels, out_channels=8, layers_per_block=1, norm_num_groups=8,
        block_out_channels=UNET_CH,
        down_block_types=("ResnetDownsampleBlock2D", "ResnetDownsampleBlock2D", "SimpleCrossAttnDownBlock2D"),
        up_block_types=("SimpleCrossAttnUpBlock2D", "ResnetUpsampleBlock2D", "ResnetUpsampleBlock2D"),
        mid_block_type="UNetMidBlock2DSimpleCrossAttn", cross_attention_dim=TEXT_DIM, attention_head_dim=8,
        encoder_hid_dim=TEXT_DIM, encoder_hid_dim_type="image_proj", addition_embed_type="image",
        resnet_time_scale_shift="scale_shift", class_embed_type=None,
    ).eval()


def prior_transformer(repo: str):
    """Tiny Kandinsky 2.2 prior transformer (ch. 3, 5)."""
    from diffusers import PriorTransformer

    seed_torch(f"{repo}/prior")
    return PriorTransformer(
        num_attention_heads=2, attention_head_dim=8, num_layers=1, embedding_dim=TEXT_DIM, num_embeddings=77,
        additional_embeddings=4,
    ).eval()


def x2_unet(repo: str):
    """Tiny x2 latent-upscaler UNet with the K-diffusion block layout (ch. 3)."""
    from diffusers import UNet2DConditionModel

    seed_torch(f"{repo}/unet")
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


def x4_unet(repo: str):
    """Tiny x4 upscaler UNet: 7 input channels, noise level as class label (ch. 3)."""
    from diffusers import UNet2DConditionModel

    seed_torch(f"{repo}/unet")
    return UNet2DConditionModel(
        sample_size=128, in_channels=7, out_channels=4, layers_per_block=1, block_out_channels=UNET_CH,
        down_block_types=PLAIN, up_block_types=PLAIN_UP,
        cross_attention_dim=TEXT_DIM, attention_head_dim=8, num_class_embeds=1000, norm_num_groups=8,
    ).eval()


def safety_checker(seed: str):
    """Tiny SD safety checker; its concept thresholds never flag noise (ch. 1)."""

    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker
    from transformers import CLIPConfig

    seed_torch(seed)
    cfg = CLIPConfig(
        text_config={"hidden_size": TEXT_DIM, "intermediate_size": 64, "num_hidden_layers": 1,
                     "num_attention_heads": 2, "vocab_size": 1000, "bos_token_id": 0, "eos_token_id": 2,
                     "pad_token_id": 1},
        vision_config={"image_size": 224, "patch_size": 32, "hidden_size": TEXT_DIM, "intermediate_size": 64,
                       "num_hidden_layers": 1, "num_attention_heads": 2},
        projection_dim=TEXT_DIM,
    )
    return StableDiffusionSafetyChecker(cfg).eval()


def weights_for(repo: str) -> Path | None:
    """The committed UNet weights a repo's twin loads, or None (ch. 1)."""
    for name, repos in TAUGHT.items():
        if repo in repos:
            return WEIGHTS / f"{name}.safetensors"
    return None


def taught(repo: str, unet):
    """Load the committed weights tools/train_twins.py taught a repo's twin UNet into it, and return it (ch. 1)."""
    from safetensors.torch import load_file

    path = weights_for(repo)
    if path is None:
        return unet
    if not path.is_file():
        raise TwinBuildError(f"{path} is missing: the twin of {repo} loads its UNet from it. Restore it with "
                             f"`git checkout -- {path.name}` in {path.parent}, or retrain with "
                             f"`python -m tools.train_twins {path.stem}`.")
    unet.load_state_dict({k: v.float() for k, v in load_file(path).items()})
    return unet


def learned(model, name: str):
    """Load the weights tools/train_control.py taught a model (`name`.safetensors) into it, and return it (ch. 4)."""
    from safetensors.torch import load_file

    path = WEIGHTS / f"{name}.safetensors"
    if not path.is_file():
        raise TwinBuildError(f"{path} is missing: a twin loads its weights from it. Restore it with "
                             f"`git checkout -- {path.name}` in {path.parent}, or retrain with "
                             "`python -m tools.train_control`.")
    model.load_state_dict({k: v.float() for k, v in load_file(path).items()})
    return model


def scheduler(config: dict):
    """A scheduler from a real repo's config dict, dropping keys the class no longer uses (ch. 1)."""

    import diffusers

    cfg = dict(config)
    cls = getattr(diffusers, cfg.pop("_class_name"))
    return cls.from_config(cfg)  # like loading the real file: keys the class no longer uses are dropped


def portable_init(model, seed: str) -> None:
    """Refill every parameter from numpy's seeded generator, the same on every torch version (ch. 4).

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
