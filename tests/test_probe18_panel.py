"""From an eighteenth probe: a method named without (), encode= reading a missing control, and a yes/no check."""

import inspect
import pydoc

import pytest
from conftest import checked_pipes, raised
from IPython.core.formatters import DisplayFormatter
from PIL import Image

from helpers.chain import LatentSpace, check_latents_compatible
from helpers.painter import MaskPainter
from helpers.panel import Panel, Slider

START = Image.new("RGB", (64, 64), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def shown(value) -> str:
    """What a notebook shows for `value` as a cell's last line (IPython's plain-text display)."""
    return DisplayFormatter().format(value)[0]["text/plain"]


def small_panel(pipes, **more):
    return Panel(pipes["img2img"], prompt="a house", num_inference_steps=1, guidance_scale=1.0, preview=False,
                 extras=[Slider("strength", 1.0, 0.0, 1.0)], fixed={"image": START}, **more)


def test_painter_invert_without_a_call_says_to_call_it():
    painter = MaskPainter(START)
    assert shown(painter.invert) == ("painter.invert is a method, and without () it did not run: call it, "
                                     "painter.invert(), to invert the mask.")
    assert repr(painter.clear) == ("painter.clear is a method, and without () it did not run: call it, "
                                   "painter.clear(), to remove every stroke.")
    assert painter.painted == 0.0  # shown, not run
    # still the method: its name, docstring, signature and help
    assert painter.invert.__name__ == "invert" and painter.invert.__doc__ == MaskPainter.invert.__doc__
    assert str(inspect.signature(painter.invert)) == "() -> 'MaskPainter'"  # it returns the painter, to chain
    assert inspect.isfunction(MaskPainter.invert) and "Swap painted and unpainted" in pydoc.render_doc(painter.invert)
    assert painter.invert == painter.invert and painter.invert != painter.clear


def test_painter_invert_and_clear_called_work_as_before():
    painter = MaskPainter(START)
    assert painter.invert() is painter and painter.painted == 1.0
    painter.clear()
    assert painter.painted == 0.0


def test_panel_methods_without_a_call_say_to_call_them(pipes):
    panel = small_panel(pipes)
    for name, does in [("generate", "run the pipeline once with the controls' values"),
                       ("stop", "stop the run after its current step"), ("wait", "wait until the current run ends"),
                       ("save", "save the current picture as PNG"), ("close", "close the panel's widgets")]:
        assert shown(getattr(panel, name)) == (f"panel.{name} is a method, and without () it did not run: call it, "
                                               f"panel.{name}(), to {does}.")
    assert panel.runs == 0
    assert list(inspect.signature(panel.generate).parameters) == ["wait", "values"]
    assert "newest first in panel.results" in panel.generate.__doc__


def test_panel_methods_called_work_as_before(pipes, tmp_path):
    panel = small_panel(pipes)
    result = panel.generate(wait=True)
    assert result.params["prompt"] == "a house" and panel.runs == 1
    assert panel.save(tmp_path / "a.png").exists()
    panel.stop()
    assert "nothing is running" in panel.status.value
    panel.close()


def read_weight(prompt, negative_prompt, params):
    return {"prompt": f"{prompt}, weight {params['weight']:.1f}"}


def test_encode_reading_a_control_the_panel_lacks_names_it(pipes):
    panel = small_panel(pipes, encode=read_weight)
    err = raised(lambda: panel.generate(wait=True))
    assert isinstance(err, KeyError) and isinstance(err.__cause__, KeyError)
    assert str(err) == ("encode= read params['weight'], and this panel has no 'weight' control (its controls: prompt, "
                        "negative_prompt, guidance_scale, num_inference_steps, seed, strength). Declare it for encode= "
                        "only, in Panel(..., extras=[Slider('weight', 1.0, 0.0, 2.0, step=0.1, pipeline_arg=False)]), "
                        "as chapter 4 does.")
    assert "MissingControl</b>: encode= read params[&#x27;weight&#x27;]" in panel.status.value
    assert not panel._busy.locked() and not panel.generate_button.disabled
    other = small_panel(pipes, encode=lambda prompt, negative, extras: {"prompt": prompt + extras["look"]})
    text = str(raised(lambda: other.generate(wait=True)))
    assert "encode= read extras['look']" in text and "Slider('look', start, low, high, pipeline_arg=False)" in text
    assert "or use extras.get('look', value)" in text


def test_a_declared_weight_and_other_key_errors_are_unchanged(pipes):
    with_weight = Panel(pipes["img2img"], prompt="a house", num_inference_steps=1, guidance_scale=1.0, preview=False,
                        extras=[Slider("strength", 1.0, 0.0, 1.0), Slider("weight", 1.0, 0.0, 2.0, step=0.1,
                                                                              pipeline_arg=False)],
                        fixed={"image": START}, encode=read_weight)
    assert with_weight.generate(wait=True).params["weight"] == 1.0
    table = {}  # a KeyError from another dict, for a name the panel lacks: Python's own
    err = raised(lambda: small_panel(pipes, encode=lambda p, n, e: table["weight"]).generate(wait=True))
    assert type(err) is KeyError and str(err) == "'weight'"
    # a KeyError for a name that is a control: Python's own too
    err = raised(lambda: small_panel(pipes, encode=lambda p, n, e: table["strength"]).generate(wait=True))
    assert type(err) is KeyError and str(err) == "'strength'"


def test_check_latents_compatible_answers_yes(pipes):
    assert check_latents_compatible(pipes["t2i"], pipes["img2img"]) is True
    kandinsky_like = LatentSpace("movq", "VQModel", 4, 1.0, 8)
    with pytest.raises(ValueError, match="cannot be passed to StableDiffusionImg2ImgPipeline"):  # a no still raises
        check_latents_compatible(kandinsky_like, pipes["img2img"])
