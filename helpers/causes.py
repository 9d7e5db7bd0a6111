"""Causes confirmed from a failed pipeline call: a note for a loosely worded error only when the call's facts show it.

Each function takes the error and its CallFacts (helpers.callfacts) and returns (what it means, how to fix it), or
None when the facts do not confirm a cause. helpers.notes shows None as no note at all, and looks no further: a
note that names the wrong cause sends the learner the wrong way, which is worse than none. Causes met while
loading (files, repos, variants, parts) are in helpers.causes_loading.
"""

from __future__ import annotations

import os
import re
import traceback

from helpers.callfacts import CallFacts, Value
from helpers.causes_values import failing_line

# the names torch gives dtypes in its messages
TORCH_NAMES = {"Double": "float64", "Float": "float32", "Half": "float16", "BFloat16": "bfloat16"}


def dtype_mismatch(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Two dtypes met: latents in another dtype than the UNet, or fp16 weights on a CPU (every chapter)."""
    text = str(exc)
    named = {TORCH_NAMES[n] for n in re.findall(r"\b(Double|Float|Half|BFloat16)\b", text)}
    if facts is not None and facts.pipeline:
        latents = facts.args.get("latents")
        # latents are the one input diffusers does not cast (pictures and prompt_embeds are converted for you)
        if latents is not None and latents.kind == "tensor" and latents.dtype != facts.unet_dtype and \
                (not named or latents.dtype in named):
            return (f"latents are {latents.dtype}, but the UNet's weights are {facts.unet_dtype}: diffusers casts "
                    "pictures and prompt embeddings for you, but not latents you pass.",
                    "make them in the pipeline's dtype: latents=latents.to(pipeline.dtype), or "
                    "torch.randn(..., dtype=pipeline.dtype).")
        if facts.dtype in ("float16", "bfloat16") and facts.device.startswith("cpu") and \
                re.search(r"not implemented for '(Half|BFloat16)'", text):
            return ("the pipeline's weights are float16 on the CPU, which most CPUs cannot compute.",
                    "load with dtype=pick_dtype(device) (fp16 only on CUDA), then fit_to_machine(pipeline, device).")
    # the message alone, where it names the dtypes that met
    if "float64" in named and ({"float32", "float16"} & named):
        return ("a float64 (double) tensor met float32 or float16 weights: NumPy arrays become float64 by default.",
                "convert it with .to(model.dtype) (or torch.from_numpy(array).float()) before passing it.")
    if re.search(r"not implemented for 'Half'|c10::Half", text) or {"float16", "float32"} <= named:
        return ("half precision (float16) met float32 (a model or tensor in the other dtype), or float16 ran on a "
                "device that cannot compute it (most CPUs).",
                "load the whole pipeline in one dtype, dtype=pick_dtype(device) (fp16 only on CUDA), and do not "
                "cast single models with .half(); pass pictures as PIL images rather than tensors.")
    return None


def prompt_types(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """prompt and negative_prompt of different kinds: a list of prompts with one negative string (every chapter)."""
    if facts is None or not facts.args:
        return None
    prompt, negative = facts.args.get("prompt"), facts.args.get("negative_prompt")
    if prompt is None or negative is None or {prompt.kind, negative.kind} != {"str", "list"}:
        return None
    if prompt.kind == "list":
        return (f"prompt is a list of {prompt.count} and negative_prompt one string: they must both be strings or "
                "both be lists.", f"pass negative_prompt=[negative_prompt] * {prompt.count}.")
    return (f"prompt is one string and negative_prompt a list of {negative.count}: they must both be strings or both "
            "be lists.", f"pass prompt=[prompt] * {negative.count}, or negative_prompt as one string.")


def _count(v: Value | None) -> int | None:
    if v is None or v.kind not in ("str", "list", "pil", "tensor", "ndarray"):
        return None
    return v.count


def _embeds_count(v: Value | None) -> int | None:
    """Prompts in prompt_embeds: its first axis, (batch, tokens, width), unlike a picture's (C, H, W)."""
    if v is None or v.kind != "tensor" or not v.shape:
        return None
    return int(v.shape[0]) if len(v.shape) == 3 else None


def _latents_problem(facts: CallFacts) -> tuple[str, str] | None:
    latents = facts.args.get("latents")
    if latents is None or latents.kind != "tensor":
        return None
    shape = latents.shape
    if len(shape) != 4:
        return (f"latents have {len(shape)} axes {shape}; pipelines take 4: (batch, channels, height / 8, "
                "width / 8).", "add the batch axis: latents=latents[None] (or latents.unsqueeze(0)).")
    if facts.latent_channels and shape[1] != facts.latent_channels:
        return (f"latents have {shape[1]} channels, and this pipeline's VAE works with {facts.latent_channels}.",
                f"make them with {facts.latent_channels} channels: torch.randn(1, {facts.latent_channels}, "
                "height // 8, width // 8).")
    side = (facts.height, facts.width) if facts.height else (facts.native, facts.native) if facts.native else None
    if side and (shape[2] * facts.scale, shape[3] * facts.scale) != side:
        return (f"latents are {shape[2]}×{shape[3]}, which is {shape[2] * facts.scale}×{shape[3] * facts.scale} "
                f"pixels, and the pipeline works at {side[0]}×{side[1]}"
                f"{'' if facts.height else ' (its own size: no height= or width= was passed)'}.",
                f"pass height={shape[2] * facts.scale}, width={shape[3] * facts.scale}, or make latents of "
                f"{side[0] // facts.scale}×{side[1] // facts.scale}.")
    prompts = _count(facts.args.get("prompt")) or _embeds_count(facts.args.get("prompt_embeds"))
    if prompts and shape[0] != prompts:
        return (f"latents hold a batch of {shape[0]} and the prompts {prompts}: each image starts from its own "
                "latents.", f"make latents with a batch of {prompts}, or pass {shape[0]} prompts.")
    return None


def sizes_dont_fit(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Inputs that do not fit: embedding width, latents, UNet channels, batch or picture sizes (every chapter)."""
    if facts is None or not facts.pipeline:
        return None
    args = facts.args
    embeds = args.get("prompt_embeds")
    if embeds is not None and embeds.kind == "tensor" and facts.text_width and embeds.shape[-1] != facts.text_width:
        return (f"prompt_embeds are {embeds.shape[-1]} wide, and this pipeline's text encoder makes "
                f"{facts.text_width}-wide ones: they come from another model's text encoder.",
                "make them with this pipeline's own encoder: compel built on pipeline.tokenizer and "
                "pipeline.text_encoder, or pipeline.encode_prompt(...).")
    found = _latents_problem(facts)
    if found:
        return found
    inpainting = "Inpaint" in facts.pipeline
    if facts.unet_in == 9 and not inpainting:
        return (f"this pipeline's UNet takes 9 input channels: it is an inpainting UNet, and {facts.pipeline} feeds "
                "it 4.", "load the checkpoint with AutoPipelineForInpainting and pass image= and mask_image=.")
    mask = args.get("mask_image")
    if mask is not None and mask.kind == "tensor" and mask.channels not in (None, 1):
        index = "[:, :1]" if len(mask.shape) == 4 else "[:1]"
        return (f"mask_image is a tensor with {mask.channels} channels {mask.shape}; a mask has one (white = repaint).",
                f"keep one channel: mask_image=mask_image{index}, or pass a PIL picture in mode 'L'.")
    for name in ("image", "control_image"):
        v = args.get(name)
        if v is not None and v.kind == "list" and v.sizes and v.size is None:
            return (f"{name} is a list of pictures of different sizes: {', '.join(f'{w}x{h}' for w, h in v.sizes)}.",
                    "resize them to one size (multiples of 8): [p.resize((512, 512)) for p in pictures].")
    pictures = _count(args.get("image"))
    prompts = _count(args.get("prompt")) or _embeds_count(args.get("prompt_embeds"))
    masks = _count(mask) if mask is not None and mask.kind != "none" else None
    if pictures and masks and masks > 1 and masks != pictures:
        return (f"image holds {pictures} and mask_image {masks}: one mask serves every picture, or each picture "
                "needs its own.", "pass one mask, or as many masks as pictures.")
    image = args.get("image")
    what = "latents" if image is not None and image.kind == "tensor" and image.channels in (4, 16) else "pictures"
    if pictures and prompts and pictures > 1 and pictures != prompts:
        said = "is one prompt" if prompts == 1 else f"are {prompts} prompts"
        return (f"image holds {pictures} {what} and there {said}: each of them needs its own prompt.",
                f"pass {pictures} prompts (a list of {pictures} strings), or as many {what} as prompts.")
    if pictures and prompts and prompts != pictures and "Upscale" in facts.pipeline:
        return (f"prompt holds {prompts} prompts and image {pictures}: {facts.pipeline} does not repeat a picture "
                "for each prompt.", f"pass one prompt (a string), or {prompts} pictures (a list of {prompts}).")
    return None


def missing_folder(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A file written or read in a folder that does not exist: the folder is the cause, not the name (every chapter)."""
    from pathlib import Path

    name = getattr(exc, "filename", None)
    writing = any(f.name in ("save", "write_png", "imwrite") for f in traceback.extract_tb(exc.__traceback__))
    here = os.getcwd()
    drive = re.match(r"([A-Za-z]:)[\\/]", os.fspath(name)) if isinstance(name, (str, os.PathLike)) else None
    if drive and os.name != "nt":  # C:/Users/...: a folder named "C:" made here would hold it, not the Desktop
        import platform

        base = re.split(r"[\\/]", os.fspath(name))[-1] or "picture.png"
        system = {"Darwin": "macOS"}.get(platform.system(), platform.system())
        where = " (Colab, Kaggle or a server)" if system == "Linux" else ""
        return (f"{os.fspath(name)!r} is a Windows path, but this kernel runs on {system}{where}, "
                f"where there is no {drive.group(1)} drive: your own computer's folders cannot be reached from here.",
                f"save under a name here, image.save({base!r}), and download it (Colab: the Files panel)." if writing
                else f"upload the file (Colab: the Files panel), then open it by its name here: {base!r}.")
    if isinstance(name, (str, os.PathLike)) and os.fspath(name).startswith("~"):  # only the shell expands ~
        return (f"{os.fspath(name)!r} starts with '~', which Python's open() and PIL do not expand to your home "
                "folder: they look for a folder named '~' in the working folder.",
                f"expand it first: os.path.expanduser({os.fspath(name)!r}) (or Path(...).expanduser()).")
    folder = Path(name).expanduser().parent if isinstance(name, (str, os.PathLike)) and str(name) else None
    if folder is None or folder.is_dir():  # the folder is there: the name is what is wrong
        return (f"the file is not where the path says. Relative paths start from the notebook's folder ({here}).",
                "print(Path.cwd()) to see where you are, and pass the full path or one relative to that folder.")
    missing = folder
    while not missing.parent.is_dir() and missing.parent != missing:
        missing = missing.parent  # the first part of the path that is not there
    if "," in missing.name:  # a phrase, not a folder's name: a "/" inside a name made from a prompt
        return (f"the name contains '/', which separates folders, so '{missing.name}' was read as a folder that does "
                "not exist (a file name made from a prompt, say).",
                "take the '/' out of the name: name = text.replace('/', '-'), then save under that name.")
    if not writing:  # reading from a folder that is not there: the path is what is wrong
        return (f"the folder {folder} does not exist, so the file cannot be in it.",
                f"check the path: print(Path.cwd()) shows where relative paths start (the notebook's folder, now "
                f"{here}); pass the full path, or one relative to that folder.")
    return (f"the folder {folder} does not exist, so no file can be written in it.",
            f"make it first: Path({str(folder)!r}).mkdir(parents=True, exist_ok=True), or check the folder's name "
            f"(relative paths start from the notebook's folder, {here}).")


def results_list(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A list of results read as one: a transformers pipeline given several pictures returns one dict each (ch. 4)."""
    found = re.search(r"\[\s*['\"](depth|predicted_depth)['\"]\s*\]", failing_line(exc))
    if not found:
        return None  # some other list indexed by a name: which one, and why, is not known here
    return (f"this result is a list, one dict per picture: a depth-estimation pipeline given a list of pictures "
            f"returns a list, so ['{found.group(1)}'] must be asked of one of its items.",
            f"take one item first: results[0]['{found.group(1)}'], or all of them: "
            f"[r['{found.group(1)}'] for r in results].")


def no_cuda(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """CUDA asked for on a machine without it: a diffusers pipeline, or transformers' own pipeline (every chapter)."""
    meaning = ("this asks for a CUDA GPU (the book's .to('cuda'), device='cuda', enable_model_cpu_offload() or "
               "xformers), and this machine has none.")
    frames = traceback.extract_tb(exc.__traceback__) if exc.__traceback__ else []
    if re.search(r"CUDA generator|device type for generator", str(exc)):  # torch.Generator("cuda") on a CPU
        return (meaning, "make the generator on this machine's device: generator=make_generator(seed, device), "
                "with device = pick_device() (helpers.device).")
    if any("/transformers/pipelines/" in f.filename.replace("\\", "/") for f in frames):
        return (meaning, "give transformers' pipeline the device this machine has: device=pick_device() "
                "(helpers.device), as chapter 4's depth estimator does.")
    return (meaning, "let fit_to_machine(pipeline, device) choose: it moves, offloads and picks attention for the "
            "machine you are on (attention='auto').")


def unbatched_picture(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A picture tensor without its batch axis reached postprocess: vae.decode was given latents[0] (ch. 3)."""
    tb, found = exc.__traceback__, None
    while tb is not None:
        image = tb.tb_frame.f_locals.get("image") if tb.tb_frame.f_code.co_name == "postprocess" else None
        if getattr(image, "ndim", None) == 3:
            found = tuple(image.shape)
        tb = tb.tb_next
    if found is None:
        return None
    return (f"postprocess takes a batch of pictures, (B, 3, H, W), and was given a tensor of shape {found}, without "
            "the batch axis: vae.decode of latents[0] (one picture's latents) makes such a tensor.",
            "keep the batch axis: decode latents[:1] or latents[0][None] instead of latents[0].")


def one_text_encoder(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """tokenizer_2 / text_encoder_2 asked of a pipeline with one text encoder: an SDXL snippet on SD 1.x (ch. 4)."""
    found = re.search(r"'(\w+)' object has no attribute '(tokenizer_2|text_encoder_2)'", str(exc))
    if not found or "XL" in found.group(1) or not found.group(1).startswith("StableDiffusion"):
        return None  # SDXL has both; Kandinsky and others have other encoders altogether
    return (f"{found.group(1)} has one text encoder (SD 1.x); tokenizer_2 and text_encoder_2 belong to SDXL, which "
            "has two, so this code was written for SDXL.",
            "for compel on SD 1.x: Compel(tokenizer=pipeline.tokenizer, text_encoder=pipeline.text_encoder), and "
            "prompt_embeds=compel(prompt), with no pooled embeddings (chapter 4).")


def compel_pair(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """Two names unpacked from compel's one tensor: SDXL's (embeddings, pooled) pattern on SD 1.x (ch. 4)."""
    if not re.search(r"^\s*\w+\s*,\s*\w+\s*=\s*compel\w*\(", failing_line(exc)):
        return None
    return ("compel returned one tensor, the prompt's embeddings: it returns a pair (embeddings, pooled) only when "
            "made with requires_pooled=True, which SDXL's two text encoders need.",
            "on SD 1.x take one: prompt_embeds = compel(prompt); for the negative, call compel again: "
            "negative_prompt_embeds = compel(negative_prompt).")


def image_source(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """transformers' pipelines given a file name that does not exist: they blame base64 padding (ch. 4)."""
    found = re.search(r"Incorrect image source.*?Got (.+?)\. Failed with", str(exc), re.S)
    name = found.group(1).strip() if found else ""
    if not name or name.startswith(("http://", "https://")) or os.path.exists(os.path.expanduser(name)):
        return None  # a URL, or a file that is there: the cause lies elsewhere
    where = "" if os.path.isabs(os.path.expanduser(name)) else f" (from the folder Python runs in, {os.getcwd()})"
    return (f"there is no file {name!r}{where}; transformers then tried to read the text as a base64 picture, which "
            "is why it speaks of padding.",
            "check the path: print(Path(name).resolve()); or open the picture first and pass it: "
            "depth_estimator(load_image_file(path)) (helpers.images).")


def callback_return(exc: BaseException, facts: CallFacts | None) -> tuple[str, str] | None:
    """A step callback that returned something else than the dict it was given (ch. 1, 3)."""
    if "callback_outputs" not in failing_line(exc):  # diffusers reads the callback's answer on that line
        return None
    return ("a callback_on_step_end function must return the dict it was given (callback_kwargs), and this one "
            "returned something else; diffusers reads the tensors from that dict.",
            "change what you need inside it, then end with `return callback_kwargs` (e.g. callback_kwargs['latents'] "
            "= latents; return callback_kwargs).")

