"""Check a ControlNet call's control picture: given, one per ControlNet, one per prompt or one for all (ch. 4).

Runs inside `helpers.callbatch.check_batch`, before diffusers would refuse the call with a message that names no
fix.
"""

from __future__ import annotations

import inspect

import numpy as np


def _name(pipeline) -> str:
    return type(pipeline).__name__


def _control_param(pipeline) -> str | None:
    """The argument a ControlNet pipeline reads its control picture from: control_image=, or image= (text-to-image)."""
    if getattr(pipeline, "controlnet", None) is None:
        return None
    try:
        params = inspect.signature(type(pipeline).__call__).parameters
    except (TypeError, ValueError):
        return None
    return "control_image" if "control_image" in params else "image" if "image" in params else None


def check_control(pipeline, args: dict) -> None:
    """A ControlNet's control picture: given, one per ControlNet, a picture, not the raw depth output (ch. 4)."""
    if "ControlNet" in _name(pipeline) and getattr(pipeline, "controlnet", 1) is None:
        raise TypeError(f"{_name(pipeline)}.controlnet is None, and a ControlNet pipeline cannot run without its "
                        "ControlNet (diffusers would stop with a bare AssertionError). To switch it off for one call: "
                        "controlnet_conditioning_scale=0; for a plain pipeline on the same weights: "
                        "AutoPipelineForImage2Image.from_pipe(pipeline, controlnet=None). Put the model back with "
                        "pipeline.controlnet = controlnet (the one you loaded).")
    name = _control_param(pipeline)
    if name is None:
        return
    value = args.get(name)
    if value is None and name == "image":  # text-to-image ControlNet: there is no start picture
        raise TypeError(f"{_name(pipeline)} is text-to-image with a ControlNet, and needs image=: here image= is the "
                        "control picture the ControlNet follows (image=depth_image), as there is no start picture. "
                        "For text-to-image without the ControlNet: AutoPipelineForText2Image.from_pipe(pipeline, "
                        "controlnet=None).")
    if value is None:
        raise TypeError(f"{_name(pipeline)} needs {name}=: the control picture the ControlNet follows (chapter 4: "
                        f"{name}=depth_image, the depth map), besides the start picture in image=. Without the "
                        "ControlNet: AutoPipelineForImage2Image.from_pipe(pipeline, controlnet=None).")
    nets = getattr(pipeline.controlnet, "nets", None)  # MultiControlNetModel: one picture per ControlNet
    if nets is not None and (not isinstance(value, (list, tuple)) or len(value) != len(nets)):
        given = f"{len(value)} pictures" if isinstance(value, (list, tuple)) else "one picture"
        raise ValueError(f"{_name(pipeline)} has {len(nets)} ControlNets, and {name}= gives {given}: each ControlNet "
                         f"needs its own, in the same order: {name}=[{', '.join(['picture'] * len(nets))}] (the same "
                         "picture twice is fine).")
    _check_control_count(args, name, value, nets)
    for item in value if isinstance(value, (list, tuple)) else [value]:
        if isinstance(item, dict):
            keys = ", ".join(map(repr, list(item)[:6]))
            hint = (f"the depth estimator's picture is result['depth']: {name}=result['depth'].convert('RGB')"
                    if "depth" in item else "pick the picture out of it")
            raise TypeError(f"{name} is a dict (keys {keys}), not a picture: {hint}.")
        if isinstance(item, np.ndarray) and item.ndim == 2 and item.dtype.kind == "f":  # a raw depth array
            raise ValueError(
                f"{name} is a 2-D numpy array {item.shape} of floats: one channel and no colour axis, so diffusers "
                "would read its first axis as the batch. Make it a picture first: "
                f"{name} = Image.fromarray((array / array.max() * 255).astype('uint8')).convert('RGB'), or use "
                "the depth estimator's picture, result['depth'].convert('RGB').")
        shape = tuple(getattr(item, "shape", ())) if hasattr(item, "dim") else ()
        if len(shape) == 2 or (len(shape) == 3 and shape[0] == 1):  # (H, W) or (1, H, W): one channel, no batch
            raise ValueError(
                f"{name} is a tensor of shape {shape}: one channel and no batch axis, as a depth estimator's raw "
                "predicted_depth comes; diffusers would read its first axis as the batch. Pass the estimator's "
                f"picture instead: {name}=result['depth'].convert('RGB').")
        if len(shape) == 3 and not isinstance(value, (list, tuple)):  # one (3, H, W) picture without its batch axis
            raise ValueError(f"{name} is a tensor of shape {shape}, one picture without its batch axis; a tensor "
                             f"goes in as (B, 3, H, W): pass {name}={name}[None] (or a list of such tensors).")


def _check_control_count(args: dict, name: str, value, nets) -> None:
    """One ControlNet takes one control picture for all prompts, or one per prompt (ch. 4)."""
    if nets is not None:
        return
    pictures = len(value) if isinstance(value, (list, tuple)) else None
    if pictures is None and getattr(value, "ndim", 0) == 4:
        pictures = int(value.shape[0])
    prompt, embeds = args.get("prompt"), args.get("prompt_embeds")
    if isinstance(prompt, str):
        prompts, said = 1, "one prompt"
    elif isinstance(prompt, (list, tuple)):
        prompts, said = len(prompt), f"{len(prompt)} prompts"
    elif getattr(embeds, "ndim", 0) == 3:
        prompts, said = int(embeds.shape[0]), f"prompt_embeds with a batch of {int(embeds.shape[0])}"
    else:
        return
    if pictures and pictures > 1 and pictures != prompts:
        raise ValueError(f"{name}= holds {pictures} control pictures and the call has {said}: the ControlNet takes "
                         f"one control picture for every prompt, or one for all of them. Pass {name}=depth_image "
                         f"(one for all), or a list of {prompts}.")
