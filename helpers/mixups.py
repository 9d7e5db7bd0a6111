"""Calls that run but were likely meant otherwise: swapped pictures, a negative inside prompt_embeds, latents out of
scale, a scheduler made for other weights, one generator for a batch, prompt_embeds not padded to 77 tokens, and
sizes read otherwise than given (helpers.sizeslips).

Each is said once per pipeline as a CallWarning, with the fix, since each can also be what the learner meant. It
runs inside `helpers.callcheck.check_pipeline_call`; parts of another family, which cannot be right, are refused
by helpers.families.
"""

from __future__ import annotations

import contextlib
import re
import warnings

from PIL import Image

from helpers.callbatch import pictures_per_call
from helpers.callwarning import collecting, warn_call
from helpers.sizeslips import check_half_size, check_size_order

GREY_MAPS = ("depth", "canny", "lineart", "scribble", "softedge", "mlsd")  # ControlNets whose control maps are grey
# LCM-LoRA adapters for SD 1.5 and SDXL, used with LCMScheduler in diffusers' LCM guide
# (https://huggingface.co/docs/diffusers/using-diffusers/inference_with_lcm)
LCM_LORAS = {"SD 1.5": "latent-consistency/lcm-lora-sdv1-5", "SDXL": "latent-consistency/lcm-lora-sdxl"}
# TCD-LoRA adapters, used with TCDScheduler on their model cards (https://huggingface.co/h1t/TCD-SD15-LoRA)
TCD_LORAS = {"SD 1.5": "h1t/TCD-SD15-LoRA", "SDXL": "h1t/TCD-SDXL-LoRA"}
LATENT_SPREAD = 3.0  # scaled latents spread about 1; unscaled SD ones about 1 / 0.18215 ≈ 5.5 times that


def _name(pipeline) -> str:
    return type(pipeline).__name__


def _grey(picture: Image.Image) -> bool:
    """True for a picture with the same value in R, G and B everywhere (a depth or edge map turned RGB)."""
    import numpy as np

    small = np.asarray(picture.convert("RGB").resize((32, 32)))
    return bool((small[..., 0] == small[..., 1]).all() and (small[..., 1] == small[..., 2]).all())


def _upside(control: Image.Image) -> None:
    """A depth map much brighter at the top than at the bottom: maybe inverted (far drawn bright)."""
    import numpy as np

    grey = np.asarray(control.convert("L").resize((48, 48)), dtype=np.float64)
    top, bottom = grey[:16].mean(), grey[32:].mean()
    if top - bottom > 60:  # most scenes put the near ground at the bottom, which a depth map draws bright
        warn_call(f"control_image is much brighter at the top ({top:.0f} of 255) than at the bottom ({bottom:.0f}). "
                  "A depth ControlNet reads bright as near, as the depth estimator draws it, and in most scenes the "
                  "near ground is at the bottom. If you inverted the map (255 - depth, ImageOps.invert), leave that "
                  "out; if the scene is really so, nothing is wrong.")


def _swapped_control(pipeline, args: dict) -> None:
    image, control = args.get("image"), args.get("control_image")
    net = getattr(pipeline, "controlnet", None)
    name = str(getattr(getattr(net, "config", None), "_name_or_path", "")).lower()
    if not any(kind in name for kind in GREY_MAPS) or not isinstance(image, Image.Image) \
            or not isinstance(control, Image.Image):
        return  # a segmentation or pose ControlNet takes colour maps, and a start photo may be black and white
    if "depth" in name and _grey(control):
        _upside(control)
    if control is image and not _grey(image):
        warn_call("control_image= is the start picture itself. The ControlNet reads it as its map (a depth "
                  "ControlNet: near is bright), so the photo's brightness becomes the layout it follows. Make the "
                  "map first, e.g. control_image = depth_estimator(init_image)['depth'].convert('RGB') (chapter 4).")
    elif _grey(image) and not _grey(control):
        warn_call("image= is grey (the same in R, G and B), as a depth map is, and control_image= is in colour. "
                  "image= is the start picture the call repaints; control_image= is the map the ControlNet follows. "
                  "If they are swapped: image=init_image, control_image=depth_image.")


def _negative_inside(pipeline, args: dict) -> None:
    embeds, image = args.get("prompt_embeds"), args.get("image")
    if getattr(embeds, "ndim", 0) != 3 or embeds.shape[0] != 2 or args.get("negative_prompt_embeds") is not None \
            or args.get("negative_prompt") is not None or not isinstance(image, Image.Image):
        return  # two prompts for text-to-image, or for two start pictures, are a batch as meant
    warn_call("prompt_embeds holds 2 prompts (batch 2) for one start picture, and no negative was given, so this "
              "call makes 2 pictures from it, each against an empty negative prompt. If the second is meant as the "
              "negative (compel(['prompt', 'negative']) encodes both in one tensor): prompt_embeds, "
              "negative_prompt_embeds = embeds.chunk(2), and pass both.")


def _latents_scale(pipeline, args: dict) -> None:
    import torch

    config = getattr(getattr(pipeline, "vae", None), "config", None)
    factor, channels = getattr(config, "scaling_factor", None), getattr(config, "latent_channels", None)
    value = args.get("image")  # start latents; latents= is noise, which a scheduler may scale by design
    if not isinstance(factor, float) or factor >= 1 or not isinstance(value, torch.Tensor) or value.ndim != 4 \
            or value.shape[1] != channels or not value.is_floating_point():
        return
    from helpers.chain import latents_mark

    rms = float(value.detach().float().pow(2).mean().sqrt())
    if rms < 1 / LATENT_SPREAD and latents_mark(value) is None:  # marked ones: check_latents_compatible judges them
        warn_call("image= holds latents that spread several times narrower than the latents a pipeline hands on "
                  f"(output_type='latent' gives them already multiplied by vae.config.scaling_factor, {factor}, so "
                  "they spread about 1). These look multiplied by it a second time: pass them as the pipeline "
                  "handed them, image=latents.")
    elif float(value.detach().float().std()) > LATENT_SPREAD:
        warn_call("image= holds latents that spread several times wider than the latents a pipeline hands on "
                  f"(output_type='latent' gives them multiplied by vae.config.scaling_factor, {factor}, so they "
                  "spread about 1). These look divided by it (as for vae.decode), or never multiplied (raw "
                  "vae.encode output): pass image=latents * pipeline.vae.config.scaling_factor.")


def _lcm_without_weights(pipeline) -> None:
    scheduler, unet = getattr(pipeline, "scheduler", None), getattr(pipeline, "unet", None)
    config = getattr(unet, "config", None)
    kind = type(scheduler).__name__
    if kind not in ("LCMScheduler", "TCDScheduler") or config is None:
        return
    adapters, short = (LCM_LORAS, "LCM") if kind == "LCMScheduler" else (TCD_LORAS, "TCD")
    distilled = getattr(config, "time_cond_proj_dim", None) is not None  # an LCM UNet
    lora = getattr(unet, "peft_config", None) or getattr(pipeline, "num_fused_loras", 0)  # loaded, or fused in
    if distilled or lora:  # a LoRA may be an LCM-LoRA
        return
    xl, width = getattr(config, "addition_embed_type", None) == "text_time", getattr(config, "cross_attention_dim", 0)
    repo = adapters["SDXL"] if xl else adapters["SD 1.5"] if width != 1024 else None  # 1024: SD 2.x
    load = f"pipeline.load_lora_weights('{repo}') (needs peft)" if repo else f"a {short}-LoRA made for this model"
    warn_call(f"{kind} makes a picture in 4–8 steps only with weights distilled for it, and this UNet has none "
              f"(no {short} UNet, no LoRA loaded), so its pictures come out unfinished. Load {load} first, with "
              + ("guidance_scale between 1 and 2" if short == "LCM" else "guidance_scale=0 and eta=0.3, as its model "
                 "card does") + "; or keep the model's own scheduler.")


def _stops_early(args: dict) -> None:
    end = args.get("denoising_end")
    if isinstance(end, (int, float)) and 0 < end < 1 and args.get("output_type", "pil") != "latent":
        warn_call(f"denoising_end={end} stops the run with {1 - end:.0%} of the noise still in the picture, and "
                  "output_type is not 'latent', so that noise is decoded into the result. denoising_end belongs on "
                  "the first model's call, which hands its latents on (output_type='latent') to a second one that "
                  f"starts there with denoising_start={end}.")


def _guidance_below_one(pipeline, args: dict) -> None:
    import inspect

    guidance = args.get("guidance_scale")
    if not isinstance(guidance, (int, float)) or not 0 < guidance < 1:
        return
    if "guidance_scale > 1" not in inspect.getsource(type(pipeline)):  # diffusers' test for guiding at all
        return
    warn_call(f"guidance_scale={guidance} is below 1, where diffusers switches classifier-free guidance off (it "
              "guides only above 1), so this picture is the one guidance_scale=1 gives, and 0 too. For a gentle "
              "pull towards the prompt, use 1.5 to 3.")


def _repeated_prompt(args: dict) -> None:
    prompt = args.get("prompt")
    found = re.fullmatch(r"(.{4,}?)(?:\s*\1)+", prompt.strip(), flags=re.S) if isinstance(prompt, str) else None
    if found:
        times = prompt.count(found.group(1))
        warn_call(f"prompt is one text written {times} times over ('...' * {times} joins strings), so this makes "
                  f"one picture of the words repeated. For {times} pictures of it: prompt=[prompt] * {times}, or "
                  f"num_images_per_prompt={times}.")


def _missing_trigger(pipeline, args: dict) -> None:
    from helpers.checkpoints import CHECKPOINTS

    repo = str(getattr(getattr(pipeline, "config", None), "_name_or_path", "") or "")
    if repo not in CHECKPOINTS:  # loaded from a cache folder: models--org--name/snapshots/...
        unet_path = getattr(getattr(getattr(pipeline, "unet", None), "config", None), "_name_or_path", "")
        found = re.search(r"models--([^/\\]+?)--([^/\\]+)", str(unet_path))
        repo = f"{found.group(1)}/{found.group(2)}" if found else repo
    trigger = CHECKPOINTS[repo].trigger if repo in CHECKPOINTS else None
    prompt = args.get("prompt")
    texts = [prompt] if isinstance(prompt, str) else prompt if isinstance(prompt, (list, tuple)) else []
    if trigger and texts and all(isinstance(t, str) and trigger.lower() not in t.lower() for t in texts):
        warn_call(f"{repo} was fine-tuned on prompts that say '{trigger}', and this prompt does not, so its style "
                  f"hardly shows. Add the words: prompt=with_trigger({repo!r}, prompt) (from helpers.checkpoints), "
                  f"or write '{trigger}' into the prompt.")


def _one_generator_for_many(pipeline, args: dict) -> None:
    """A picture of a batch made with one generator, "remade" with seed + i: said at that second call."""
    per, generator = args.get("num_images_per_prompt"), args.get("generator")
    if collecting():  # a panel makes the generator itself, and its captions name the seed and picture i/n
        return
    if not hasattr(generator, "initial_seed"):  # a list of generators (one per picture), or none
        pipeline.__dict__.pop("_tutorial_batch", None)
        return
    seed, prompt = generator.initial_seed(), args.get("prompt")
    prompt = prompt if isinstance(prompt, str) else None
    if isinstance(per, int) and not isinstance(per, bool) and per >= 2:
        pipeline.__dict__["_tutorial_batch"] = (seed, pictures_per_call(args) or per, prompt)
        return
    first, count, text = pipeline.__dict__.get("_tutorial_batch") or (0, 0, None)
    if per not in (None, 1) or prompt != text or not 0 < seed - first < count:
        return
    i = seed - first  # A1111 numbers a batch's pictures seed, seed + 1, ...; one torch generator does not
    warn_call(f"seed {seed} does not remake picture {i + 1} of the earlier call with num_images_per_prompt={count} "
              f"and seed {first}: that call's one generator drew the noise of all {count} pictures in one go, so "
              f"its picture {i + 1} is not what seed {seed} gives on its own. To get it again, repeat that call and "
              f"take .images[{i}]; to make each picture of a batch reproducible by itself, pass one generator per "
              f"picture: generator=[make_generator({first} + i, device) for i in range({count})], and picture i is "
              f"then what seed {first} + i gives alone.")


def _unpadded_embeds(pipeline, args: dict) -> None:
    """SD's prompt_embeds of another length than the 77 tokens (or a multiple, compel's chunks) it pads prompts to."""
    tokenizer = getattr(pipeline, "tokenizer", None)
    limit = getattr(tokenizer, "model_max_length", None)
    width = getattr(getattr(getattr(pipeline, "text_encoder", None), "config", None), "hidden_size", None)
    if not type(tokenizer).__name__.startswith("CLIPTokenizer") or not isinstance(limit, int) or limit > 512 \
            or any(getattr(pipeline, n, None) is not None for n in ("tokenizer_2", "tokenizer_3")):
        return  # SD 1.x/2.x only: SDXL joins two encoders' states, Flux and SD3 read T5's other lengths
    for name in ("prompt_embeds", "negative_prompt_embeds"):
        embeds = args.get(name)
        if getattr(embeds, "ndim", 0) != 3 or not embeds.shape[1] % limit or embeds.shape[-1] != width:
            continue
        count, text = int(embeds.shape[1]), name.replace("_embeds", "")
        # encode_prompt pads a text negative to prompt_embeds' length (max_length = prompt_embeds.shape[1])
        also = f" (and it pads negative_prompt= to {count} to match)" if text == "prompt" \
            and args.get("negative_prompt") is not None else ""
        warn_call(f"{name} has {count} tokens, and SD's UNet was trained on the text encoder's output for prompts "
                  f"padded to {limit} tokens, as {_name(pipeline)} pads {text}= itself{also}: this picture differs "
                  f"from what {text}='...' gives. Pad when tokenizing: ids = tokenizer({text}, padding=\"max_length\", "
                  "max_length=tokenizer.model_max_length, truncation=True, return_tensors=\"pt\").input_ids, then "
                  "text_encoder(ids)[0] (compel pads for you).")
        return


def check_mixups(pipeline, args: dict) -> None:
    """Say once each call that runs but was likely meant otherwise (ch. 1–5)."""
    for check in (lambda: _stops_early(args), lambda: _swapped_control(pipeline, args),
                  lambda: _negative_inside(pipeline, args), lambda: _latents_scale(pipeline, args),
                  lambda: _lcm_without_weights(pipeline), lambda: _guidance_below_one(pipeline, args),
                  lambda: _repeated_prompt(args), lambda: _missing_trigger(pipeline, args),
                  lambda: _one_generator_for_many(pipeline, args), lambda: _unpadded_embeds(pipeline, args),
                  lambda: check_half_size(pipeline, args), lambda: check_size_order(pipeline, args)):
        try:
            check()
        except Exception:  # noqa: BLE001 - a warning is a help: an odd pipeline of the learner's must still run
            continue


@contextlib.contextmanager
def quiet_wrong_warnings(args: dict):
    """Leave out diffusers' warnings that name a wrong cause for this call (ch. 2–5).

    img2img with num_images_per_prompt > 1 repeats the start picture for each picture it makes, and diffusers 0.42
    then warns "You have passed N text prompts ... but only 1 initial images" for one prompt and one picture.
    """
    per = args.get("num_images_per_prompt") or 1
    image, prompt = args.get("image"), args.get("prompt")
    pictures = len(image) if isinstance(image, (list, tuple)) else 1
    prompts = len(prompt) if isinstance(prompt, (list, tuple)) else 1
    if not (isinstance(per, int) and per > 1 and image is not None and pictures == prompts):
        yield
        return
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"You have passed \d+ text prompts", category=FutureWarning)
        yield
