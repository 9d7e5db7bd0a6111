"""The one table of the chapter's checkpoints: book id -> current id, task, pipeline class, trigger token.

Which files each repo ships (fp16, safetensors, pickle) is recorded with sources in helpers/manifests.json.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Checkpoint:
    """One checkpoint of the chapter, as the book names it and as the Hub serves it today."""

    repo_id: str  # the id that works today
    book_id: str  # the id printed in the book (may be dead or mistyped)
    task: str  # text2img, img2img, inpaint, upscale, controlnet, depth, prior
    pipeline: str  # class that AutoPipeline / from_pretrained picks for the real repo
    trigger: str | None  # words the fine-tune was trained on; put them in the prompt
    chapter: str  # which notebook uses it first
    note: str = ""


CHECKPOINTS: dict[str, Checkpoint] = {
    m.repo_id: m
    for m in [
        Checkpoint("stable-diffusion-v1-5/stable-diffusion-v1-5", "runwayml/stable-diffusion-v1-5",
              "text2img", "StableDiffusionPipeline", None, "01",
              "runwayml/* was taken down in 2024; the same weights live under stable-diffusion-v1-5/*"),
        Checkpoint("stabilityai/stable-diffusion-xl-refiner-1.0", "stabilityai/stable-diffusion-xl-refiner-1.0",
              "img2img", "StableDiffusionXLImg2ImgPipeline", None, "02"),
        Checkpoint("kandinsky-community/kandinsky-2-2-decoder", "kandinsky-community/kandinsky-2-2-decoder",
              "text2img", "KandinskyV22Pipeline", None, "03",
              "AutoPipeline wraps it with its prior into a *CombinedPipeline"),
        Checkpoint("kandinsky-community/kandinsky-2-2-prior", "kandinsky-community/kandinsky-2-2-prior",
              "prior", "KandinskyV22PriorPipeline", None, "03",
              "loaded for you by the Kandinsky combined pipelines"),
        Checkpoint("ogkalu/Comic-Diffusion", "ogkalu/Comic-Diffusion",
              "img2img", "StableDiffusionPipeline", "charliebo artstyle", "03"),
        Checkpoint("kohbanye/pixel-art-style", "kohbanye/pixel-art-style",
              "img2img", "StableDiffusionPipeline", "pixelartstyle", "03"),
        Checkpoint("stabilityai/sd-x2-latent-upscaler", "stabilityai/sd-x2-latent-upscaler",
              "upscale", "StableDiffusionLatentUpscalePipeline", None, "03"),
        Checkpoint("stabilityai/stable-diffusion-x4-upscaler", "stabilityai/stable-diffusion-x4-upscaler",
              "upscale", "StableDiffusionUpscalePipeline", None, "03"),
        Checkpoint("lllyasviel/control_v11f1p_sd15_depth", "lllyasviel/control_v11flip_sd15_depth",
              "controlnet", "ControlNetModel", None, "04",
              "the book's 'control_v11flip' is a typo of 'control_v11f1p' (f-one-p, not 'flip')"),
        Checkpoint("nitrosocke/elden-ring-diffusion", "nitrosocke/elden-ring-diffusion",
              "img2img", "StableDiffusionPipeline", "elden ring style", "04"),
        Checkpoint("depth-anything/Depth-Anything-V2-Small-hf", "",
              "depth", "DepthAnythingForDepthEstimation", None, "04",
              "not in the book: makes a depth map from any image (small, Apache-2.0, safetensors, no remote code)"),
        Checkpoint("kandinsky-community/kandinsky-2-2-decoder-inpaint",
                   "kandinsky-community/kandinsky-2-2-decoder-inpaint",
              "inpaint", "KandinskyV22InpaintPipeline", None, "05"),
        Checkpoint("stable-diffusion-v1-5/stable-diffusion-inpainting", "runwayml/stable-diffusion-inpainting",
              "inpaint", "StableDiffusionInpaintPipeline", None, "05",
              "runwayml/* was taken down in 2024; the same weights live under stable-diffusion-v1-5/*"),
        Checkpoint("diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
                   "diffusers/stable-diffusion-xl-1.0-inpainting-0.1",
              "inpaint", "StableDiffusionXLInpaintPipeline", None, "05"),
        Checkpoint("madebyollin/taesd", "", "tiny_vae", "AutoencoderTiny", None, "speed",
              "not in the book: a distilled VAE for SD 1.x/2.x latents, for fit_to_machine(tricks=('tiny_vae',)); "
              "decodes many times faster, slightly softer detail"),
        Checkpoint("madebyollin/taesdxl", "", "tiny_vae", "AutoencoderTiny", None, "speed",
              "not in the book: the same for SDXL latents"),
    ]
}

# Ids printed in the book (or common typos of them) that no longer resolve, mapped to today's id.
DEAD_IDS: dict[str, str] = {m.book_id: m.repo_id for m in CHECKPOINTS.values() if m.book_id and m.book_id != m.repo_id}
DEAD_IDS.update({
    "runwayml/stable-diffusion-v1-5".lower(): "stable-diffusion-v1-5/stable-diffusion-v1-5",
    "lllyasviel/control_v11p_sd15_depth": "lllyasviel/control_v11f1p_sd15_depth",
})


class UnknownCheckpointError(ValueError):
    """Raised for a repo id that is not one of the chapter's checkpoints."""


class DeadRepoIdError(ValueError):
    """Raised for a book id that no longer resolves; the message names the current id."""


def checkpoint(repo_id: str) -> Checkpoint:
    """Look up a checkpoint of the chapter by its current id; dead book ids raise with the fix (all chapters)."""
    if not isinstance(repo_id, str) or not repo_id:
        raise UnknownCheckpointError(f"repo_id must be a non-empty string like {next(iter(CHECKPOINTS))!r}, "
                                     f"got {repo_id!r}.")
    if repo_id in CHECKPOINTS:
        return CHECKPOINTS[repo_id]
    if repo_id in DEAD_IDS or repo_id.lower() in DEAD_IDS:
        new = DEAD_IDS.get(repo_id, DEAD_IDS.get(repo_id.lower()))
        why = CHECKPOINTS[new].note or "the repo was renamed"
        raise DeadRepoIdError(
            f"repo_id={repo_id!r} is the id printed in the book, but it does not exist on the Hub any more "
            f"({why}). Use repo_id={new!r} instead."
        )
    close = difflib.get_close_matches(repo_id, list(CHECKPOINTS), n=1, cutoff=0.6)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise UnknownCheckpointError(
        f"repo_id={repo_id!r} is not one of the checkpoints this tutorial knows.{hint} "
        f"Known ids: {', '.join(sorted(CHECKPOINTS))}."
    )


def with_trigger(repo_id: str, prompt: str) -> str:
    """Add the checkpoint's trigger token to a prompt unless it is already there (ch. 3, 4)."""
    if not isinstance(prompt, str):
        if isinstance(prompt, (list, tuple)):
            raise TypeError(f"with_trigger(prompt=) takes one prompt as text, got a {type(prompt).__name__} of "
                            f"{len(prompt)}. For a list: prompts = [with_trigger(repo_id, p) for p in prompts].")
        raise TypeError(f"with_trigger(prompt=) takes one prompt as text, got {type(prompt).__name__} {prompt!r}; "
                        "pass a string, e.g. with_trigger(repo_id, 'a castle on a hill').")
    trigger = checkpoint(repo_id).trigger
    if trigger and trigger.lower() not in prompt.lower():
        return f"{prompt}, {trigger}"
    return prompt


# the VAEs madebyollin's tiny autoencoders were distilled from, by their config's scaling_factor
TINY_VAES = {0.18215: "madebyollin/taesd", 0.13025: "madebyollin/taesdxl"}


def tiny_vae_for(pipeline) -> str:
    """The repo id of the distilled tiny VAE that decodes this pipeline's latents, for tricks=('tiny_vae',) (ch. 1)."""
    name = type(pipeline).__name__
    vae = getattr(pipeline, "vae", None)
    if vae is None or getattr(getattr(vae, "config", None), "latent_channels", None) != 4:
        raise ValueError(f"tricks=('tiny_vae',) needs a Stable Diffusion pipeline with a 4-channel VAE; {name} has "
                         "none. Leave the trick out for this pipeline.")
    if type(vae).__name__ == "AutoencoderTiny":  # swapped in already (fit_to_machine run twice): the same one again
        return "madebyollin/taesdxl" if "XL" in name else "madebyollin/taesd"
    scaling = getattr(vae.config, "scaling_factor", None)
    repo = next((r for s, r in TINY_VAES.items() if isinstance(scaling, float) and abs(scaling - s) < 1e-4), None)
    if repo is None:
        raise ValueError(f"tricks=('tiny_vae',) has no tiny VAE for {name}: the tiny VAEs (taesd, taesdxl) were "
                         "distilled from Stable Diffusion's and SDXL's VAEs (scaling_factor 0.18215 and 0.13025), "
                         f"and this pipeline's VAE is another (scaling_factor {scaling}), so its latents would be "
                         "decoded wrongly. Leave the trick out for this pipeline: fit_to_machine(pipeline, device) "
                         "without tricks=('tiny_vae',).")
    return repo
