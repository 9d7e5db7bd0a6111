"""From a twenty-fifth probe: Panel(pipe, prompt, 7.5) (N1), panel = Panel(...).generate(wait=True) then
panel.save() (P5), and MaskPainter(mask_image) given the book's mask as the picture to touch it up (K2).

The panels wrap stand-in pipelines (tests/test_probe23_panel.py), so no weights are loaded.
"""

import inspect
import warnings

import numpy as np
import pytest
from conftest import raised
from PIL import Image
from test_probe23_panel import START, InpaintLike, inpaint_panel

from helpers.callwarning import CallWarning
from helpers.images import make_mask
from helpers.painter import MaskPainter
from helpers.panel import Panel
from helpers.panel_results import Result


@pytest.fixture(autouse=True)
def _own_painters(painters_of_this_test_only):
    """Each test starts with no open painter (tests/conftest.py)."""


# ---------------------------------------------------------------- N1: Panel(pipe, prompt, 7.5)

def test_guidance_by_position_is_told_the_keyword_it_was_meant_for():
    err = raised(lambda: Panel(InpaintLike(), "a house", 7.5, num_inference_steps=1, fixed={"image": START}))
    assert isinstance(err, TypeError)
    assert str(err) == ("Panel takes the pipeline and the prompt by position; name the rest: Panel(pipeline, prompt, "
                        "guidance_scale=7.5). Its keywords, in order: negative_prompt, guidance_scale, "
                        "num_inference_steps, seed, extras, fixed, encode, history, live, device, save_dir, preview.")
    assert "positional arguments but" not in str(err)


@pytest.mark.parametrize("values, named", [
    ((7.5, 30), "guidance_scale=7.5, num_inference_steps=30"),
    (("blurry", 7.5, 30, 4), "negative_prompt='blurry', guidance_scale=7.5, num_inference_steps=30, seed=4"),
    ((START,), "fixed={'image': <your 64x64 picture>}"),
    ((True,), "live=True"),
])
def test_each_value_by_position_is_named_in_panels_own_order(values, named):
    err = raised(lambda: Panel(InpaintLike(), "a house", *values, fixed={"image": START}))
    assert isinstance(err, TypeError)
    assert f"name the rest: Panel(pipeline, prompt, {named})." in str(err)


def test_the_named_form_works_and_the_signature_still_shows_the_keywords():
    panel = Panel(InpaintLike(), "a house", guidance_scale=7.5, num_inference_steps=1, preview=False,
                  fixed={"image": START, "mask_image": make_mask((64, 64), box=(8, 8, 40, 40))})
    assert panel.guidance_scale.value == 7.5
    parameters = inspect.signature(Panel).parameters
    for name in ("negative_prompt", "guidance_scale", "num_inference_steps", "seed", "extras", "fixed"):
        assert parameters[name].kind is inspect.Parameter.KEYWORD_ONLY


# ---------------------------------------------------------------- P5: panel = Panel(...).generate(wait=True)

def test_a_result_saved_without_a_path_says_it_is_not_the_panel():
    panel = inpaint_panel().generate(wait=True)  # the learner's line: `panel` holds the run's Result
    assert isinstance(panel, Result)
    err = raised(lambda: panel.save())
    assert isinstance(err, TypeError)
    assert str(err) == ("this is a Result (one picture of a run), not the panel: Panel(...).generate() returns the "
                        "Result, so a name given that line holds the picture, and no sliders show. Keep the panel in "
                        "its own name: panel = Panel(...), then panel.generate(wait=True); panel.save() then saves "
                        "the picture on screen. To save this picture: result.save('name.png').")
    assert "missing 1 required positional argument" not in str(err)


def test_the_forms_it_names_work_and_the_result_says_what_it_is(tmp_path):
    panel = inpaint_panel()
    result = panel.generate(wait=True)
    assert result.save(tmp_path / "name.png").exists()
    assert panel.save(tmp_path / "panel.png").exists()
    assert repr(result) == (f"Result(64x64, seed=0, {result.seconds:.1f} s) (a Result of panel.generate(); the "
                            "panel itself is the Panel you made)")
    assert result._repr_png_().startswith(b"\x89PNG")  # a notebook still shows the picture


# ---------------------------------------------------------------- K2: MaskPainter(mask_image)

def _said(picture, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        painter = MaskPainter(picture, **kwargs)
    return painter, [str(w.message) for w in caught if issubclass(w.category, CallWarning)]


def test_the_books_mask_given_as_the_picture_is_warned_once_with_set_mask():
    mask_image = make_mask((64, 64), ellipse=(8, 12, 56, 52))
    painter, said = _said(mask_image.convert("RGB"), brush=8)
    assert said == ["this picture is black and white, like a mask: the painter paints over the picture you give "
                    "it, and its mask starts empty (painter.mask is all black until you paint). To touch up a mask: "
                    "MaskPainter(init_image).set_mask(mask_image)."]
    assert painter.painted == 0.0  # what the learner saw: an empty mask
    assert _said(mask_image, brush=8)[1] == said[:1]  # the "L" mask as loaded too
    fixed, said = _said(START, brush=8, mask=mask_image)  # the form it names works, and says nothing
    assert said == [] and fixed.painted > 0.3
    assert MaskPainter(START).set_mask(mask_image).painted == fixed.painted


@pytest.mark.parametrize("picture", [
    Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)),  # a colour photo
    Image.fromarray(np.tile(np.linspace(0, 255, 64).astype(np.uint8), (64, 1))),  # a grey gradient
    Image.new("RGB", (64, 64)),  # all black: no white, not a mask
    Image.new("RGB", (64, 64), (255, 255, 255)),  # all white
    START,
])
def test_ordinary_pictures_are_not_warned_about(picture):
    assert _said(picture, brush=8)[1] == []
