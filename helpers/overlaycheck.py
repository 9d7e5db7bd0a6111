"""apply_overlay's order, checked while the call checks are on: the mask first, then the start picture, then the result.

`pipeline.image_processor.apply_overlay(mask, init_image, image)` pastes the repainted picture into the start
picture where the mask is white. Given in another order it runs and keeps the wrong part, so a mask that is not
first, or a colour picture where the mask goes, is refused before it does.
"""

from __future__ import annotations

import numpy as np

_OVERLAY: dict = {}  # VaeImageProcessor.apply_overlay as diffusers defines it, while the checks wrap it


def _greyish(picture) -> bool:
    """A mask: greys only (mode L or 1, or RGB whose channels agree)."""
    from PIL import Image

    if not isinstance(picture, Image.Image):
        return False
    if picture.mode in ("L", "1", "LA"):
        return True
    rgb = np.asarray(picture.convert("RGB").resize((32, 32)), dtype=np.int16)
    return float(np.abs(rgb - rgb.mean(axis=2, keepdims=True)).mean()) < 2


def check_overlay_order(mask, init_image, image) -> None:
    """Refuse apply_overlay arguments whose mask is not first: the kept area would change (ch. 5)."""
    from PIL import Image

    given = {"mask": mask, "init_image": init_image, "image": image}
    if not all(isinstance(v, Image.Image) for v in given.values()) or _greyish(mask):
        return
    where = next((name for name in ("init_image", "image") if _greyish(given[name])), None)
    if where is None:
        return  # three colour pictures: no mask to point to
    raise ValueError(f"apply_overlay takes (mask, init_image, image), in that order: the mask first, then the start "
                     f"picture, then the repainted one. Here the first argument is a colour picture and {where} (the "
                     f"{'2nd' if where == 'init_image' else '3rd'} one) is a mask, so the part to keep would change. "
                     "Call it as pipeline.image_processor.apply_overlay(mask_image, init_image, result).")


def wrap_apply_overlay() -> None:
    """While the checks are on, check the order of VaeImageProcessor.apply_overlay's pictures (ch. 5)."""
    import sys

    module = sys.modules.get("diffusers.image_processor")
    cls = getattr(module, "VaeImageProcessor", None)
    if cls is None or _OVERLAY:
        return
    original = cls.__dict__["apply_overlay"]

    def apply_overlay(self, mask, init_image, image, *args, **kwargs):
        check_overlay_order(mask, init_image, image)
        return original(self, mask, init_image, image, *args, **kwargs)

    _OVERLAY["class"], _OVERLAY["original"] = cls, original
    cls.apply_overlay = apply_overlay


def unwrap_apply_overlay() -> None:
    """Give VaeImageProcessor its own apply_overlay back (ch. 5)."""
    if _OVERLAY:
        _OVERLAY.pop("class").apply_overlay = _OVERLAY.pop("original")
