"""From a seventeenth probe: the panel from Python (a control replaced by a value), its declarations, its results."""

import sys

import pytest
from conftest import checked_pipes, raised, said
from PIL import Image

from helpers.panel import Choice, Panel, Slider

START = Image.new("RGB", (64, 64), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def small_panel(pipes, **more):
    return Panel(pipes["img2img"], prompt="a house", num_inference_steps=1, guidance_scale=1.0, preview=False,
                 extras=[Slider("strength", 1.0, 0.0, 1.0)], fixed={"image": START}, **more)


def test_a_failed_start_leaves_the_panel_working(pipes):
    panel = small_panel(pipes)
    err = raised(lambda: panel.controls.__setitem__("prompt", "a castle"))
    assert isinstance(err, TypeError)
    assert "panel.controls['prompt'].value = 'a castle'" in str(err)
    assert "no control 'strenght'" in str(raised(lambda: panel.controls.update(strenght=0.5)))
    box = panel.controls["prompt"]
    dict.__setitem__(panel.controls, "prompt", "a castle")  # got past the refusal: the run cannot read it
    with pytest.raises(AttributeError):
        panel.generate(wait=True)
    assert "AttributeError" in panel.status.value and "running" not in panel.status.value
    assert not panel.generate_button.disabled and not panel._busy.locked()
    assert panel._clicked() is False and not panel._busy.locked()  # a click after it: shown, never stuck
    dict.__setitem__(panel.controls, "prompt", box)
    box.value = "a castle"
    result = panel.generate(wait=True)
    assert result.params["prompt"] == "a castle" and "done" in panel.status.value


def test_assigning_a_value_to_a_control_attribute_is_refused(pipes):
    panel = small_panel(pipes)
    err = raised(lambda: setattr(panel, "prompt", "a castle, watercolor"))
    assert isinstance(err, TypeError)
    assert "panel.prompt.value = 'a castle, watercolor'" in str(err) and "text box" in str(err)
    assert "panel.seed.value = 5" in str(raised(lambda: setattr(panel, "seed", 5)))
    assert panel.prompt.value == "a house"  # the box is still there, unchanged
    panel.prompt.value = "a castle, watercolor"
    assert panel.params()["prompt"] == "a castle, watercolor"


def test_a_slider_that_reaches_nothing_is_refused(pipes):
    err = raised(lambda: Panel(pipes["img2img"], prompt="a", fixed={"image": START},
                               extras=[Slider("strength", 0.75, 0.0, 1.0, pipeline_arg=False)]))
    assert isinstance(err, ValueError)
    assert "would reach nothing" in str(err) and "this panel has no encode=" in str(err)
    assert "Leave pipeline_arg out, and the pipeline gets strength=" in str(err)
    assert "encode= a function that reads extras['strength']" in str(err)
    # with an encode= that reads it (chapter 4's weight), it is made
    Panel(pipes["img2img"], prompt="a", fixed={"image": START}, preview=False,
          extras=[Slider("weight", 1.0, 0.0, 2.0, pipeline_arg=False)],
          encode=lambda prompt, negative, extras: {"prompt": prompt})
    text = said(lambda: Panel(pipes["img2img"], prompt="a", fixed={"image": START}, preview=False,
                              extras=[Choice("look", {"a": 1, "b": 2}, pipeline_arg=False)]))
    assert "Choice('look', ..., pipeline_arg=False) would reach nothing" in text


def test_description_points_to_label():
    err = raised(lambda: Slider("strength", 0.75, 0.0, 1.0, description="Strength"))
    assert isinstance(err, TypeError)
    assert "Slider has no description=" in str(err)
    assert "Slider('strength', 0.75, 0.0, 1.0, label='Strength')" in str(err)
    assert "label='Mask'" in str(raised(lambda: Choice("mask_image", {"a": 1}, description="Mask")))
    assert Slider("strength", 0.75, 0.0, 1.0, label="Strength").label == "Strength"


def test_a_result_points_to_its_params(pipes):
    panel = small_panel(pipes, seed=3)
    result = panel.generate(wait=True)
    err = raised(lambda: result.seed)
    assert isinstance(err, AttributeError) and "result.params['seed'] (here 3)" in str(err)
    other = str(raised(lambda: result.picture))
    assert "no attribute 'picture'" in other and ".image" in other and "params" not in other.split(";")[0]
    assert result.params["seed"] == 3


def test_the_painter_points_to_its_mask():
    from helpers.painter import MaskPainter

    painter = MaskPainter(START)
    err = raised(lambda: painter.mask_image)
    assert isinstance(err, AttributeError) and "the painted mask is painter.mask" in str(err)
    assert "has no attribute 'colour'" in str(raised(lambda: painter.colour))
    assert painter.mask.size == (64, 64)


def test_free_memory_names_the_panel_that_still_holds_a_pipeline(pipes, capsys):
    import weakref

    from diffusers import StableDiffusionImg2ImgPipeline

    from helpers.device import free_memory
    from helpers.panel_save import still_held

    main = sys.modules["__main__"]  # a script's names: the learner's
    pipeline = StableDiffusionImg2ImgPipeline(**pipes["t2i"].components)
    gone = weakref.ref(pipeline)
    main.my_panel, main.pipeline = small_panel({"img2img": pipeline}), pipeline
    try:
        assert "my_panel" not in " ".join(still_held())  # the learner still holds the pipeline: nothing to say
        del main.pipeline, pipeline
        free_memory()
        out = capsys.readouterr().out
        assert "StableDiffusionImg2ImgPipeline is still in memory, because the Panel my_panel holds it" in out
        assert "(a panel stays while its widgets are open). To free it: my_panel.close(); del my_panel;" in out
        panel = main.my_panel
        del main.my_panel  # `del panel` alone: its open widgets still hold it, and so does the cell's output
        main.Out = {7: panel}
        out = " ".join(still_held())  # what free_memory() prints
        assert ("a Panel made earlier, also kept as the cell output Out[7], holds it (a panel stays while its widgets "
                "are open, even with no name). To free it: import ipywidgets; ipywidgets.Widget.close_all()") in out
        assert "%reset -f out; then call free_memory() again" in out
        del main.Out
        panel.close()  # the advice, followed: the pipeline goes
        del panel
        free_memory()
        assert gone() is None and "my_panel" not in capsys.readouterr().out
    finally:
        vars(main).pop("my_panel", None)
        vars(main).pop("pipeline", None)
        vars(main).pop("Out", None)
