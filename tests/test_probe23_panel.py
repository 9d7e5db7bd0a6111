"""From a twenty-third probe: a name the panel or the painter lacks is said with the one it has.

Panel(..., history_size=10) is told about history=, not a Slider that fails; painter.brush_size = 10 and
panel.sead = 3 are refused instead of making attributes nothing reads; panel.generate(mask="box") is told about
the control labelled "mask", not a fixed= entry that fails at the first run. The panels here wrap stand-in
pipelines (the panel reads only their call's signature), so no weights are loaded.
"""

import types

import pytest
from conftest import raised
from PIL import Image

from helpers.images import make_mask
from helpers.painter import MaskPainter
from helpers.panel import Choice, Panel, Slider

START = Image.new("RGB", (64, 64), (120, 80, 40))
BOX, LEFT = make_mask((64, 64), box=(8, 8, 40, 40)), make_mask((64, 64), box=(0, 0, 32, 64))


class InpaintLike:
    """Takes the arguments an inpainting pipeline takes and records each call; its picture is plain grey."""

    def __init__(self):
        self.calls = []

    def __call__(self, prompt=None, image=None, mask_image=None, strength=1.0, num_inference_steps=50,
                 guidance_scale=7.5, negative_prompt=None, eta=0.0, generator=None, callback_on_step_end=None):
        self.calls.append({"mask_image": mask_image, "eta": eta, "strength": strength})
        return types.SimpleNamespace(images=[Image.new("RGB", (64, 64), (128, 128, 128))])


class TextLike(InpaintLike):
    """A text-to-image call: no image=, mask_image= or strength=."""

    def __call__(self, prompt=None, num_inference_steps=50, guidance_scale=7.5, negative_prompt=None,
                 generator=None, callback_on_step_end=None):
        return super().__call__(prompt)


def inpaint_panel(pipe=None, extras=(), **more):
    """Chapter 5's panel: the mask chosen from a Choice labelled "mask", after any `extras`."""
    more.setdefault("num_inference_steps", 1)
    return Panel(pipe or InpaintLike(), prompt="a house", preview=False, fixed={"image": START},
                 extras=[*extras, Choice("mask_image", {"box": BOX, "left": LEFT}, label="mask")], **more)


@pytest.fixture(autouse=True)
def _own_painters(painters_of_this_test_only):
    """Each test starts with no open painter (tests/conftest.py)."""


# ---------------------------------------------------------------- P2: Panel(..., history_size=10)

def test_an_argument_named_like_the_attribute_it_sets_is_told_the_argument():
    err = raised(lambda: inpaint_panel(history_size=10))
    assert isinstance(err, TypeError)
    assert str(err) == ("Panel has no argument history_size: did you mean history=10? (panel.history_size is the "
                        "attribute it sets)")
    assert "Slider" not in str(err)
    assert inpaint_panel(history=10).history_size == 10  # the fix, as said
    assert "did you mean history=3?" in str(raised(lambda: inpaint_panel(histroy=3)))
    said = str(raised(lambda: inpaint_panel(controls={})))
    assert "panel.controls is part of a made panel, not something to pass" in said and "save_dir" in said


def test_extras_and_fixed_are_offered_only_for_what_the_pipeline_takes():
    taken = str(raised(lambda: inpaint_panel(strength=0.5)))  # the pipeline takes it: a control, or fixed=
    assert "extras=[Slider('strength', 0.5, low, high)]" in taken and "fixed={'strength': 0.5}" in taken
    typo = str(raised(lambda: inpaint_panel(strenght=0.5)))
    assert "InpaintLike takes no strenght either: did you mean strength?" in typo
    assert "extras=[Slider('strength', 0.5, low, high)]" in typo and "Slider('strenght'" not in typo
    other = str(raised(lambda: Panel(TextLike(), prompt="a cat", strength=0.5)))
    assert "TextLike takes no strength either, so neither extras= nor fixed= can pass it" in other
    assert "Slider(" not in other and "fixed={" not in other
    assert "AutoPipelineForImage2Image.from_pipe(pipeline)" in other
    panel = inpaint_panel(extras=[Slider("strength", 0.5, 0.0, 1.0)], num_inference_steps=2)  # the fix: it runs
    assert panel.generate(wait=True) and panel.pipeline.calls[-1]["strength"] == 0.5


# ---------------------------------------------------------------- P3: painter.brush_size = 10

def test_a_name_the_painter_lacks_is_refused_with_the_one_it_has():
    painter = MaskPainter(START, brush=40)
    err = raised(lambda: setattr(painter, "brush_size", 10))
    assert isinstance(err, AttributeError)
    assert str(err).startswith("MaskPainter has no brush_size: setting it would make a new attribute")
    assert str(err).endswith("The brush width (picture pixels) is painter.brush = 10.")
    assert painter.brush == 40 and "brush_size" not in vars(painter)
    assert "painter.eraser = True" in str(raised(lambda: setattr(painter, "eraser_on", True)))
    assert "painter.set_mask(mask)" in str(raised(lambda: setattr(painter, "mask_image", BOX)))
    assert "What it lets you set: painter.brush" in str(raised(lambda: setattr(painter, "colour", "red")))
    painter.brush, painter.eraser = 10, True  # the fixes, as said
    assert painter.brush == 10 and painter.eraser is True


def test_the_painter_s_own_names_traits_and_subclasses_still_work():
    painter = MaskPainter(START).set_mask(BOX)
    painter._mine = 1  # private names: IPython's, traitlets' and the painter's own
    painter.note = "a line"
    painter.set_state({"brush": 12})  # the browser's slider
    painter.on_change(lambda mask: None)
    assert painter.brush == 12 and painter.painted > 0 and painter._mine == 1

    class Mine(MaskPainter):
        def __init__(self, image):
            super().__init__(image)
            self.strokes = 0  # a subclass's own attribute, set in its own method

    mine = Mine(START)
    mine.strokes += 1
    assert mine.strokes == 1
    assert "brush = 5" in str(raised(lambda: setattr(mine, "brush_size", 5)))


# ---------------------------------------------------------------- P3: panel.sead = 3

def test_a_name_the_panel_lacks_is_refused_with_the_control_it_means():
    panel = inpaint_panel()
    sead = raised(lambda: setattr(panel, "sead", 3))
    assert isinstance(sead, AttributeError) and str(sead) == (
        "Panel has no sead: setting it would make a new attribute that no run reads. Did you mean the seed "
        "control, panel.controls['seed']? Set it: panel.controls['seed'].value = 3.")
    assert "sead" not in vars(panel) and panel.seed.value == 0
    mask = str(raised(lambda: setattr(panel, "mask", "left")))
    assert ("Its control labelled 'mask' is panel.controls['mask_image']. Set it: "
            "panel.controls['mask_image'].value = 'left' (its choices: 'box', 'left').") in mask
    eta = str(raised(lambda: setattr(panel, "eta", 0.3)))
    assert "To pass eta=0.3 on every run: panel.fixed['eta'] = 0.3" in eta
    assert "Did you mean panel.history_size = 3?" in str(raised(lambda: setattr(panel, "history_sise", 3)))
    shared = str(raised(lambda: setattr(panel, "guidance_scale", 9)))  # replacing a shared slider: said as before
    assert "panel.guidance_scale.value = 9 (the same slider as panel.controls['guidance_scale'])" in shared
    chapter5 = inpaint_panel(extras=[Slider("strength", 0.5, 0.0, 1.0)])
    strength = str(raised(lambda: setattr(chapter5, "strength", 1)))
    assert "The strength control is panel.controls['strength']" in strength
    assert "panel.controls['strength'].value = 1." in strength
    panel.controls["seed"].value, panel.history_size = 3, 3  # the fixes, as said
    panel.controls["mask_image"].value = "left"
    panel.fixed["eta"] = 0.3
    assert panel.generate(wait=True).params["seed"] == 3
    assert panel.pipeline.calls[-1]["mask_image"] is LEFT and panel.pipeline.calls[-1]["eta"] == 0.3


def test_what_the_panel_sets_itself_and_subclasses_still_work():
    bare = object.__new__(Panel)  # as the cell checks make one: only fixed= set
    bare.fixed = {"image": START}
    panel = inpaint_panel()
    panel._mine, panel.results, panel.save_dir = 1, [], None  # private, and its own attributes
    panel.encode = None

    class Logged(Panel):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.log = []

    logged = Logged(InpaintLike(), prompt="a cat", fixed={"image": START, "mask_image": BOX}, preview=False,
                    num_inference_steps=1)
    logged.log.append("made")
    assert logged.generate(wait=True) and logged.log == ["made"]
    assert "panel.controls['seed'].value = 1" in str(raised(lambda: setattr(logged, "sead", 1)))


# ---------------------------------------------------------------- P6: panel.generate(mask="box")

def test_a_value_given_to_generate_is_told_the_control_it_belongs_to():
    panel = inpaint_panel()
    err = raised(lambda: panel.generate(mask="box"))
    assert isinstance(err, TypeError) and str(err) == (
        "generate() takes no mask=: a run uses the controls' values, and this panel has no control named 'mask'. "
        "Its control labelled 'mask' is panel.controls['mask_image']. Set it first, "
        "panel.controls['mask_image'].value = 'box' (its choices: 'box', 'left'), then call panel.generate().")
    assert "fixed=" not in str(err)
    panel.controls["mask_image"].value = "left"
    panel.controls["mask_image"].value = "box"  # the fix, as said
    assert panel.generate(wait=True) and panel.pipeline.calls[-1]["mask_image"] is BOX
    picture = str(raised(lambda: panel.generate(mask=LEFT)))
    assert "Choice('mask_image', {..., 'mine': value})" in picture
    assert "panel.controls['seed'].value = 3" in str(raised(lambda: panel.generate(sead=3)))


def test_fixed_is_offered_to_generate_only_for_what_the_pipeline_takes():
    panel = inpaint_panel()
    eta = str(raised(lambda: panel.generate(eta=0.3)))
    assert "panel.fixed['eta'] = 0.3 (read at each run), or Panel(..., fixed={'eta': 0.3})" in eta
    assert "(did you mean strength?)" in str(raised(lambda: panel.generate(strenght=0.5)))
    panel.fixed["eta"] = 0.3  # the fix, as said: read at the next run
    assert panel.generate(wait=True) and panel.pipeline.calls[-1]["eta"] == 0.3
    text = Panel(TextLike(), prompt="a cat", num_inference_steps=1, preview=False)
    said = str(raised(lambda: text.generate(foo=1)))
    assert "nor TextLike's call take foo, so fixed= cannot pass it either" in said and "fixed={" not in said
