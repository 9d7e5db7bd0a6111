"""Parts of one model family in a pipeline of another: refused before the call, since the pictures cannot be right.

SD 1.x and SDXL share class names and latent channels, so a part of the other family loads without a word: SDXL
weights in an SD class, SD 1.5's VAE, tiny VAE or ControlNet in the SDXL refiner, Kandinsky's image-to-image UNet
in its inpainting pipeline. Each part's config says which family it is. It runs inside
`helpers.callcheck.check_pipeline_call`.
"""

from __future__ import annotations

from helpers.callfacts import repo_pipeline_class
from helpers.twins.facts import FACTS

# the tiny autoencoders and the family whose latents each decodes: "TAESD is compatible with SD1/2-based models",
# TAESDXL with SDXL (https://github.com/madebyollin/taesd, README)
TINY_VAES = {"madebyollin/taesd": "SD 1.x/2.x", "madebyollin/taesdxl": "SDXL"}
# each family's VAE scaling_factor, from the real repos' configs recorded with their sources in helpers/twins/facts.py
VAE_SCALING = {FACTS["stable-diffusion-v1-5/stable-diffusion-v1-5"]["vae_scaling_factor"]: "SD 1.x/2.x",
               FACTS["stabilityai/stable-diffusion-xl-refiner-1.0"]["vae_scaling_factor"]: "SDXL"}

X4 = "stabilityai/stable-diffusion-x4-upscaler"
X4_SCALING = FACTS[X4]["vae_scaling_factor"]  # 0.08333: the x4 upscaler's own VAE, unlike any other family's


def _name(pipeline) -> str:
    return type(pipeline).__name__


def _config(part):
    return getattr(part, "config", None)


def unet_family(pipeline) -> str | None:
    """"SDXL" or "SD 1.x/2.x" from the UNet's config (SDXL's takes size-and-crop ids), or None without one (ch. 1–5)."""
    config = _config(getattr(pipeline, "unet", None))
    if config is None:
        return None
    return "SDXL" if getattr(config, "addition_embed_type", None) == "text_time" else "SD 1.x/2.x"


def check_family(pipeline) -> None:
    """SDXL weights in an SD 1.x class, or SD 1.x weights in an SDXL class: the UNet says which it is (ch. 1–5)."""
    unet = getattr(pipeline, "unet", None)
    if unet is None or not hasattr(unet, "config"):
        return
    unet_is_xl = getattr(unet.config, "addition_embed_type", None) == "text_time"  # SDXL's size-and-crop input
    class_is_xl = "XL" in _name(pipeline) and "StableDiffusion" in _name(pipeline)
    if unet_is_xl == class_is_xl or not _name(pipeline).startswith("StableDiffusion"):
        return
    repo = getattr(pipeline.config, "_name_or_path", "its repo")
    theirs = repo_pipeline_class(repo)
    family = "SDXL" if unet_is_xl else "SD 1.x/2.x"
    named = f" (the repo names {theirs})" if theirs and theirs != _name(pipeline) else ""
    raise TypeError(
        f"{_name(pipeline)} holds {family} weights from {repo}{named}: its UNet is of the other family, so the "
        "call would fail part-way or make noise. Load the weights with an AutoPipeline, which picks the class "
        "from the repo: AutoPipelineForImage2Image.from_pretrained(repo_id) (or ...ForText2Image, "
        "...ForInpainting).")


def check_vae(pipeline) -> None:
    """Refuse a VAE or tiny VAE made for the other family's latents: SD 1.5's on SDXL, or the reverse (ch. 3)."""
    vae, family = getattr(pipeline, "vae", None), unet_family(pipeline)
    if family is None or _config(vae) is None:
        return
    tiny = type(vae).__name__ == "AutoencoderTiny"
    made_for = TINY_VAES.get(getattr(vae.config, "_name_or_path", "")) if tiny else \
        VAE_SCALING.get(getattr(vae.config, "scaling_factor", None))
    if made_for is None or made_for == family:
        return
    if tiny:
        right = next(repo for repo, fits in TINY_VAES.items() if fits == family)
        fix = f"Use {right}: pipeline.vae = AutoencoderTiny.from_pretrained('{right}')."
    else:
        fix = ("Load the pipeline with its own VAE (leave vae= out), or a VAE of its family (scaling_factor "
               f"{next(f for f, fits in VAE_SCALING.items() if fits == family)}).")
    label = vae.config._name_or_path if tiny else f"an {made_for} VAE (scaling_factor {vae.config.scaling_factor})"
    raise ValueError(f"pipeline.vae is {label}, made for {made_for} latents, and this {_name(pipeline)} makes "
                     f"{family} latents: the two families' latent spaces differ, so it would decode a wrong picture. "
                     + fix)


def check_upscaler_vae(pipeline) -> None:
    """Refuse another model's VAE in the x4 upscaler, whose UNet works in its own VAE's latents (ch. 3)."""
    vae = getattr(pipeline, "vae", None)
    if _name(pipeline) != "StableDiffusionUpscalePipeline" or _config(vae) is None:
        return
    # diffusers rewrites any VAE's scaling_factor to 0.08333 here, so the VAE's depth tells it: the x4's own has 3
    # blocks and shrinks pictures 4 times; SD 1.x's, SDXL's and the tiny ones shrink them 8 times
    tiny = type(vae).__name__ == "AutoencoderTiny"
    blocks = getattr(vae.config, "block_out_channels", None)
    shrinks = 8 if tiny else 2 ** (len(blocks) - 1) if blocks else None
    if shrinks is None or shrinks == FACTS[X4]["vae_scale_factor"]:  # its own, or a config that does not say
        return
    label = vae.config._name_or_path if tiny else f"a VAE that shrinks pictures {shrinks} times ({len(blocks)} blocks)"
    changed = ("" if tiny or getattr(vae.config, "scaling_factor", None) != X4_SCALING else
               f" Loading also set this VAE's scaling_factor to {X4_SCALING} (diffusers' FutureWarning): if it came "
               "from another pipeline (vae=pipeline.vae), load that pipeline again too, since it shares the VAE.")
    own = FACTS[X4]["vae_scale_factor"]
    raise ValueError(f"pipeline.vae is {label}, another model's, and StableDiffusionUpscalePipeline (the x4 "
                     f"upscaler) works in the latents of its own VAE, which shrinks them {own} times "
                     f"(scaling_factor {X4_SCALING}): with another VAE it would decode a wrong picture. Load it "
                     f"with its own: StableDiffusionUpscalePipeline.from_pretrained('{X4}', ...) without vae= (and "
                     "without passed=['vae'] in load_args); sharing a VAE works between SD 1.5 and the x2 latent "
                     "upscaler, not here." + changed)


def check_controlnet(pipeline) -> None:
    """Refuse a ControlNet trained beside another family's UNet: SD 1.5's depth ControlNet on SDXL (ch. 4)."""
    net, unet = getattr(pipeline, "controlnet", None), getattr(pipeline, "unet", None)
    nets = getattr(net, "nets", None) or ([net] if net is not None else [])
    family = unet_family(pipeline)
    for each in nets:
        config = _config(each)
        if config is None or family is None or type(each).__name__ != "ControlNetModel":
            continue  # other kinds (ControlNet-XS, union models) keep their family elsewhere in their config
        net_family = "SDXL" if getattr(config, "addition_embed_type", None) == "text_time" else "SD 1.x/2.x"
        width, unet_width = getattr(config, "cross_attention_dim", None), getattr(unet.config, "cross_attention_dim",
                                                                                  None)
        if net_family != family or width != unet_width:
            differ = (f"an {net_family} UNet, and this {_name(pipeline)}'s UNet is {family}" if net_family != family
                      else f"a UNet whose text width is {width}, and this {_name(pipeline)}'s is {unet_width}")
            raise ValueError(
                f"the ControlNet ({getattr(config, '_name_or_path', '') or 'given'}) was trained beside {differ}: a "
                "ControlNet only fits the model family it was trained with. Use an SD 1.5 pipeline with it "
                "(chapter 4), or a ControlNet made for this family.")


def check_kandinsky_inpaint(pipeline) -> None:
    """Refuse Kandinsky 2.2's 4-channel image-to-image UNet in its inpainting pipeline (ch. 5)."""
    if "Kandinsky" not in _name(pipeline) or "Inpaint" not in _name(pipeline):
        return
    channels = getattr(_config(getattr(pipeline, "unet", None)), "in_channels", None)
    if channels == 4:
        raise ValueError(f"{_name(pipeline)} holds a UNet with 4 input channels, the image-to-image decoder's; "
                         "Kandinsky 2.2 inpainting needs its inpainting decoder, which also reads the mask and the "
                         "masked picture (9 channels). Load that repo: AutoPipelineForInpainting.from_pretrained("
                         "'kandinsky-community/kandinsky-2-2-decoder-inpaint') (chapter 5), not from_pipe of the "
                         "image-to-image pipeline.")


def check_refiner_class(pipeline) -> None:
    """Refuse SDXL's text-to-image class on the refiner, whose UNet also reads an aesthetic score (ch. 5)."""
    if _name(pipeline) != "StableDiffusionXLPipeline":
        return
    repo = getattr(pipeline.config, "_name_or_path", None)
    if repo_pipeline_class(repo) == "StableDiffusionXLImg2ImgPipeline":
        raise TypeError(f"{repo} is SDXL's refiner, an image-to-image model: its UNet also reads an aesthetic score, "
                        "which StableDiffusionXLPipeline (text-to-image) does not give it, so diffusers would stop "
                        "with \"incorrect config\". Load it with AutoPipelineForImage2Image.from_pretrained(repo_id, "
                        "...) and give it a start picture, image= (chapter 2 loads it so).")


UPSCALERS = ("StableDiffusionUpscalePipeline", "StableDiffusionLatentUpscalePipeline")


def check_upscaler_class(pipeline) -> None:
    """Refuse one upscaler's class on the other's repo: ×4 and ×2 models take different inputs (ch. 3)."""
    if _name(pipeline) not in UPSCALERS:
        return
    repo = getattr(pipeline.config, "_name_or_path", None)
    theirs = repo_pipeline_class(repo)
    if theirs in UPSCALERS and theirs != _name(pipeline):
        raise TypeError(f"{repo} holds a {theirs}, and it was loaded with {_name(pipeline)}: the ×4 upscaler works "
                        "on pixels with a noise level, the ×2 on SD latents, so their UNets do not fit each other's "
                        f"pipeline (diffusers would stop with \"Incorrect configuration settings\"). Load it with "
                        f"its own class: {theirs}.from_pretrained(repo_id, ...) (chapter 3).")


def check_families(pipeline) -> None:
    """Refuse parts of another model family than the pipeline's UNet (ch. 1–5)."""
    check_family(pipeline)
    check_refiner_class(pipeline)
    check_upscaler_class(pipeline)
    check_vae(pipeline)
    check_upscaler_vae(pipeline)
    check_controlnet(pipeline)
    check_kandinsky_inpaint(pipeline)
