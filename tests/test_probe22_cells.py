"""From a twenty-second probe: a chapter's verdict cells follow the values a learner edits above them."""

import contextlib
import io
import json
import types
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def cell(chapter: str, starts: str) -> str:
    """The source of the English chapter's code cell that holds `starts` (one cell only)."""
    found = ["".join(c["source"]) for c in json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text("utf-8"))["cells"]
             if c["cell_type"] == "code" and starts in "".join(c["source"])]
    assert len(found) == 1, (chapter, starts, len(found))
    return found[0]


def run(source: str, names: dict) -> str:
    """Run a cell's source with `names` as the notebook's; return what it printed."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(source, names)  # noqa: S102 - the chapter's own cell
    return out.getvalue()


def grey(level: int) -> Image.Image:
    return Image.new("RGB", (64, 64), (level, level, level))


def sweep_names(scales, seeds=(0, 42)) -> dict:
    from helpers.compare import falls_strictly, psnr

    # a stronger guidance moves the picture further from the unguided one (grey 100): 4 grey levels per unit
    pictures = [grey(100 + round(4 * (scale - 1))) for _ in seeds for scale in scales]
    return {"sweep_scales": list(scales), "sweep_seeds": list(seeds), "grid_images": pictures, "psnr": psnr,
            "falls_strictly": falls_strictly}


def test_chapter_1_finds_the_unguided_picture_by_value_and_labels_from_the_list():
    psnrs, verdict = cell("01_guidance_scale", "from_unguided = {}"), cell("01_guidance_scale", "for every seed:")
    default = run(psnrs + "\n" + verdict, sweep_names([1.0, 5.0, 12.0]))
    assert "PSNR to the guidance_scale=1.0 picture at guidance 5.0 / 12.0: " in default and default.endswith("True\n")
    assert run(psnrs + "\n" + verdict, sweep_names([12.0, 5.0, 1.0])) == default  # largest first: the same lines
    wider = run(psnrs + "\n" + verdict, sweep_names([1.0, 3.0, 5.0, 12.0], seeds=(0,)))
    assert "at guidance 3.0 / 5.0 / 12.0: " in wider and wider.count(" / ") == 4 and wider.endswith("True\n")
    with pytest.raises(ValueError, match="put 1.0 in sweep_scales, it is the unguided reference"):
        run(psnrs, sweep_names([3.0, 5.0, 12.0]))


def test_chapter_1_checks_the_prediction_rule_for_whatever_scales_the_loop_tried():
    source = cell("01_guidance_scale", "guidance costs a second prediction per step")
    assert run(source, {"predictions": {1.0: 1, 5.0: 2}}).endswith("per step: True\n")  # the chapter's loop
    assert run(source, {"predictions": {1.0: 1, 5.0: 2, 7.5: 2}}).endswith("per step: True\n")  # widened
    assert run(source, {"predictions": {1.0: 1, 5.0: 1}}).endswith("per step: False\n")  # a wrong count still fails


def test_chapter_3_refuses_a_crop_region_in_percent():
    source = cell("03_chaining_pipelines", "region = (")
    stages = [grey(100), grey(100), grey(100).resize((128, 128)), grey(100).resize((224, 224))]
    names = {"stages": stages, "true_size_row": lambda *a, **k: None}
    assert run(source, dict(names)) == "crops: 24x24 px | 24x24 px | 48x48 px | 84x84 px\n"
    with pytest.raises(ValueError, match=r"fractions of the side, from 0 to 1 \(0.25, not 25\)"):
        run(source.replace("region = (0.25, 0.15, 0.625, 0.525)", "region = (25, 15, 62.5, 52.5)"), names)
    assert "crops" not in names  # refused before cropping: no 9600 px black picture


def test_chapter_4_takes_the_trigger_in_any_case():
    from helpers.checkpoints import checkpoint

    source = cell("04_controlling_generation", "checkpoint(elden).trigger").split("negative_prompt =")[0]
    names = {"checkpoint": checkpoint, "elden": "nitrosocke/elden-ring-diffusion"}
    run(source, names)
    run(source.replace('"elden ring style astronaut', '"Elden Ring style astronaut'), names)  # capitalised: fine
    with pytest.raises(AssertionError, match="needs its trigger words"):
        run(source.replace('"elden ring style astronaut', '"astronaut'), names)


def test_chapter_4_checks_the_panels_first_run_after_more_runs():
    source = cell("04_controlling_generation", "the panel opens with the ControlNet cell's picture")
    first, later = grey(100), grey(160)

    def panel(*pictures, runs=None):  # newest first, as panel.results keeps them
        results = [types.SimpleNamespace(image=p) for p in pictures]
        return types.SimpleNamespace(results=results, runs=runs or len(results), history_size=6)

    names = {"np": np, "image_control_net": first}
    assert run(source, {**names, "panel": panel(first)}) == "the panel opens with the ControlNet cell's picture: True\n"
    assert run(source, {**names, "panel": panel(later, first)}).endswith("picture: True\n")  # Generate pressed again
    words = run(source, {**names, "panel": panel(*[later] * 6, runs=8)})  # the first run has left the history
    assert "the first run may have left the history (it keeps 6): run the panel cell again" in words
