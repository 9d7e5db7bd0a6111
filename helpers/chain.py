"""Chaining pipelines: may one pipeline's latents be handed to the next, and what does sharing modules save?

A pipeline run with `output_type="latent"` returns the latents *before* its autoencoder decodes them. The next
pipeline can take them as its `image` only when it reads and writes the very same latent space: the same kind
of autoencoder, the same number of latent channels, the same scaling factor and the same downsampling.
"""

from __future__ import annotations

import weakref
from dataclasses import asdict, dataclass, field

import torch

from helpers.device import module_bytes

# Pipelines that never take latents as `image`: they always turn `image` into pixels or encode it themselves.
PIXEL_ONLY = {
    "StableDiffusionUpscalePipeline": (
        "its UNet takes the noisy latents plus the low-resolution RGB image side by side "
        "(4 + 3 = 7 input channels), so `image` must be pixels, not latents"
    ),
    "KandinskyV22Img2ImgPipeline": "it always encodes `image` with its own movq encoder, so `image` must be pixels",
    "KandinskyV22Img2ImgCombinedPipeline": (
        "it always encodes `image` with its own movq encoder, so `image` must be pixels"
    ),
}
FIX = "Fix: decode to an image with output_type='pil' and pass the image instead."


@dataclass(frozen=True)
class LatentSpace:
    """What a pipeline's latents are: autoencoder class, channels, scaling factor, downsampling (ch. 3)."""

    autoencoder: str  # the component that encodes/decodes: "vae" or "movq"
    vae_class: str  # AutoencoderKL, VQModel, ...
    latent_channels: int
    scaling_factor: float  # latents are multiplied by this after encoding (1.0: not scaled)
    vae_scale_factor: int  # pixels per latent, per side
    pipeline: str = field(default="", compare=False)  # the pipeline it was read from, for messages

    def __str__(self) -> str:
        return (f"{self.autoencoder}={self.vae_class} · {self.latent_channels} latent channels · "
                f"scaling_factor={self.scaling_factor:g} · {self.vae_scale_factor}x downsampling")


def _name(pipeline) -> str:
    if isinstance(pipeline, LatentSpace):  # noted from a pipeline that may be gone by now
        return pipeline.pipeline or "a pipeline"
    path = getattr(getattr(pipeline, "config", None), "_name_or_path", None) or ""
    repo = f" ({path})" if path and "/" in path and not path.startswith(("/", ".")) and "snapshots" not in path else ""
    return type(pipeline).__name__ + repo


MARK = "_tutorial_latent_space"  # a plain dict on the tensor: torch.save / torch.load(weights_only=True) keep it


_RECENT: weakref.WeakSet = weakref.WeakSet()  # marked latents still alive: a scaled copy of one is recognised


def mark_latents(tensor, space: LatentSpace) -> None:
    """Note on a latents tensor which latent space it is in, so the next pipeline can check it fits (ch. 3)."""
    setattr(tensor, MARK, asdict(space))
    _RECENT.add(tensor)


def _scaled_copy_of(z) -> tuple[LatentSpace, float] | None:
    """The space of the marked latents that `z` is a multiple of (latents / factor), and that multiple, or None."""
    try:
        return _find_scaled_copy(z)
    except Exception:  # noqa: BLE001 - a check must never stop the decode it watches
        return None


def _find_scaled_copy(z) -> tuple[LatentSpace, float] | None:
    flat = z.detach().float().flatten()
    for marked in list(_RECENT):
        if marked.shape != z.shape or marked is z or marked.device != z.device:
            continue
        other = marked.detach().float().flatten()
        if not flat.abs().sum():
            continue
        c = float((other * flat).sum() / (flat * flat).sum())  # least squares: other ≈ c · z
        if c and float((other - c * flat).abs().max()) <= 1e-3 * float(other.abs().max()) + 1e-6:
            return LatentSpace(**getattr(marked, MARK)), 1 / c
    return None


def latents_mark(tensor) -> LatentSpace | None:
    """The latent space noted on `tensor`, on the tensor it is a view of (latents[0][None]), or None (ch. 3)."""
    for candidate in (tensor, getattr(tensor, "_base", None)):  # indexing and slicing make views of the output
        found = getattr(candidate, MARK, None) if candidate is not None else None
        if isinstance(found, dict):
            return LatentSpace(**found)
    return None


def latent_space(pipeline) -> LatentSpace:
    """Describe the latent space a diffusers pipeline works in, read from its vae (or Kandinsky's movq) (ch. 3)."""
    for attr in ("vae", "movq"):
        autoencoder = getattr(pipeline, attr, None)
        if isinstance(autoencoder, torch.nn.Module):
            break
    else:
        raise TypeError(
            f"{type(pipeline).__name__} has no `vae` or `movq` autoencoder, so it has no latent space to compare; "
            "pass a diffusers pipeline such as AutoPipelineForImage2Image.from_pretrained(...)."
        )
    config = autoencoder.config
    vae_class = type(autoencoder).__name__
    # Kandinsky pipelines hand movq latents around unscaled, whatever movq's config says
    scaling = 1.0 if attr == "movq" else float(getattr(config, "scaling_factor", 1.0) or 1.0)
    return LatentSpace(
        autoencoder=attr,
        vae_class=vae_class,
        latent_channels=int(config.latent_channels),
        scaling_factor=scaling,
        # each encoder block after the first halves the side, as diffusers computes vae_scale_factor
        vae_scale_factor=2 ** (len(config.block_out_channels) - 1),
        pipeline=_name(pipeline),
    )


def _mismatches(producer, consumer) -> list[str]:
    """Every reason the consumer cannot take the producer's latents, as short sentences."""
    reasons = []
    pixel_only = PIXEL_ONLY.get(type(consumer).__name__)
    if pixel_only:
        reasons.append(f"{type(consumer).__name__} does not accept latents at all: {pixel_only}")
    made, read = _space(producer), latent_space(consumer)
    if made.vae_class != read.vae_class:
        reasons.append(
            f"autoencoder: {made.autoencoder}={made.vae_class} vs {read.autoencoder}={read.vae_class} "
            "(a different autoencoder means a different latent space, even with equal shapes)"
        )
    if made.latent_channels != read.latent_channels:
        reasons.append(f"latent_channels: {made.latent_channels} vs {read.latent_channels}")
    if abs(made.scaling_factor - read.scaling_factor) > 1e-6:
        reasons.append(f"scaling_factor: {made.scaling_factor:g} vs {read.scaling_factor:g}")
    if made.vae_scale_factor != read.vae_scale_factor:
        reasons.append(
            f"vae_scale_factor: {made.vae_scale_factor} vs {read.vae_scale_factor} "
            "(one latent pixel stands for a different number of image pixels)"
        )
    return reasons


def _space(pipeline_or_space) -> LatentSpace:
    return pipeline_or_space if isinstance(pipeline_or_space, LatentSpace) else latent_space(pipeline_or_space)


def latents_compatible(producer, consumer) -> bool:
    """True if `consumer` can take `producer(..., output_type="latent")` output as its `image` (ch. 3)."""
    return not _mismatches(producer, consumer)


def check_latents_compatible(producer, consumer) -> bool:
    """True if latents can pass; else raise ValueError naming both sides and every mismatch (ch. 3).

    `producer` is a pipeline, or the LatentSpace noted from one that has since been freed. It never returns False,
    so `if check_latents_compatible(a, b):` reads right; for a plain yes/no without the error, latents_compatible.
    """
    reasons = _mismatches(producer, consumer)
    if reasons:
        lines = "\n".join(f"  - {r}" for r in reasons)
        raise ValueError(
            f"Latents from {_name(producer)} cannot be passed to {_name(consumer)}:\n{lines}\n"
            f"  producer: {_space(producer)}\n  consumer: {latent_space(consumer)}\n{FIX}"
        )
    return True


def shared_modules(first, second) -> dict[str, int]:
    """Components of `second` that are the very same nn.Module objects as in `first`, with their bytes (ch. 3)."""
    for pipeline in (first, second):
        if not isinstance(getattr(pipeline, "components", None), dict):
            raise TypeError(
                f"expected diffusers pipelines with a .components dict, got {type(pipeline).__name__}; "
                "pass e.g. AutoPipelineForImage2Image.from_pretrained(...)."
            )
    mine = {id(m) for m in first.components.values() if isinstance(m, torch.nn.Module)}
    return {
        name: module_bytes(module)
        for name, module in second.components.items()
        if isinstance(module, torch.nn.Module) and id(module) in mine
    }


_DECODE: dict = {}  # AutoencoderKL.decode as diffusers defines it, while the checks wrap it


def wrap_vae_decode() -> None:
    """While the checks are on, say when vae.decode gets a pipeline's latents still times scaling_factor (ch. 3).

    Only latents marked by a checked call with output_type='latent' (or a view of them) are judged: their scale is
    known, where a tensor made some other way could hold either.
    """
    import sys

    module = sys.modules.get("diffusers.models.autoencoders.autoencoder_kl")
    cls = getattr(module, "AutoencoderKL", None)
    if cls is None or _DECODE:
        return
    original = cls.__dict__["decode"]

    def decode(self, z, *args, **kwargs):
        from helpers.callwarning import warn_call

        __tracebackhide__ = True  # IPython: the traceback ends in the learner's cell

        if isinstance(z, torch.Tensor) and z.ndim == 3 and z.shape[0] == getattr(self.config, "latent_channels", 4):
            raise ValueError(f"vae.decode got latents of shape {tuple(z.shape)}, one picture's latents without the "
                             "batch axis (what latents[0] gives): it decodes a batch, (batch, channels, height, "
                             "width). Keep the axis: latents[0:1] (or latents[0][None]), or pass the whole batch.")
        space = latents_mark(z) if isinstance(z, torch.Tensor) else None
        copied = _scaled_copy_of(z) if space is None and isinstance(z, torch.Tensor) else None
        factor = float(getattr(self.config, "scaling_factor", 1.0) or 1.0)
        made = space or (copied[0] if copied else None)
        if made is not None and made.vae_class == type(self).__name__ and abs(made.scaling_factor - factor) > 1e-6:
            # each VAE's scaling_factor is measured on its own latents: another factor, another latent space
            warn_call(f"vae.decode got latents that {made.pipeline or 'another pipeline'} made with its own VAE "
                      f"(scaling_factor {made.scaling_factor:g}), and this VAE's is {factor:g}: two autoencoders with "
                      "different latent spaces, so the picture comes out wrong. Decode them with the VAE of the "
                      "pipeline that made them (that_pipeline.vae.decode(latents / "
                      "that_pipeline.vae.config.scaling_factor).sample), or ask it for pictures: output_type='pil'.")
        elif made is not None and (space is not None or abs(copied[1] - 1) < 1e-3) \
                and made.vae_class == type(self).__name__ and abs(factor - 1) > 1e-6:
            warn_call(f"vae.decode got the latents of output_type='latent' as they came: the pipeline returns them "
                      f"multiplied by vae.config.scaling_factor ({factor:g}), and decode expects them divided again "
                      f"(they are {1 / factor:.1f} times too small), so the picture comes out wrong. Divide first, "
                      "as the pipeline does: vae.decode(latents / vae.config.scaling_factor).sample.")
        return original(self, z, *args, **kwargs)

    _DECODE["class"], _DECODE["original"] = cls, original
    cls.decode = decode


def unwrap_vae_decode() -> None:
    """Give AutoencoderKL its own decode back (ch. 3)."""
    if _DECODE:
        _DECODE.pop("class").decode = _DECODE.pop("original")
