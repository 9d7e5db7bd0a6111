"""From the fifteenth probe: the step preview, the sweep, the painter, a panel's numpy mask, make_mask's feather,
with_trigger, true_size_row and pick_device, where a slip was refused with the wrong fix or went through silently."""

import numpy as np
import pytest
from conftest import checked_pipes, raised, said
from PIL import Image

SIZE = (64, 64)
START = Image.new("RGB", SIZE, (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    from diffusers import StableDiffusionInpaintPipeline

    yield from checked_pipes(inpaint=lambda t2i: StableDiffusionInpaintPipeline(**t2i.components))


# P4: the learner's own callback passed inside `with StepPreview(...)`, the preview never passed
def test_a_preview_never_passed_to_the_call_is_told_so_not_blamed_on_the_with_block(pipes):
    from helpers.preview import StepPreview

    t2i, steps = pipes["t2i"], []

    def record_step(pipe, step, timestep, callback_kwargs):
        steps.append(step)
        return callback_kwargs

    with StepPreview(t2i, size=16) as preview:
        t2i("a cat", num_inference_steps=2, height=64, width=64, callback_on_step_end=record_step)
    err = raised(lambda: preview.timeline(2))
    assert isinstance(err, ValueError) and "the preview was not passed to the call" in str(err)
    assert "callback_on_step_end=preview" in str(err) and "with block ended" not in str(err)

    # the fix it names: one function that calls both
    with StepPreview(t2i, size=16) as preview:
        def both(pipe, step, timestep, kwargs):
            kwargs = record_step(pipe, step, timestep, kwargs)
            return preview(pipe, step, timestep, kwargs)

        steps.clear()
        t2i("a cat", num_inference_steps=2, height=64, width=64, callback_on_step_end=both)
    assert steps[:2] == [0, 1] and len(preview.frames) == len(steps) + 1  # the start, then one per step
    assert len(preview.timeline(2)) == 3

    # a call after the block ended is still told about the block
    late = StepPreview(t2i, size=16)
    late.close()
    t2i("a cat", num_inference_steps=1, height=64, width=64, callback_on_step_end=late)
    assert "with` block ended" in str(raised(lambda: late.timeline(2)))


def _render(guidance_scale, seed):
    return Image.new("RGB", (16, 16), (int(guidance_scale * 20), seed * 40, 0))


# P9: a number where a list of values goes
def test_a_sweep_axis_given_as_a_number_is_told_to_be_a_list():
    from tools.sweep import run_sweep, sweep_jobs

    err = raised(lambda: run_sweep(_render, [1, 5], 0))
    assert isinstance(err, TypeError) and "seeds=0 must be a list, e.g. seeds=[0]" in str(err)
    assert "at least one value" not in str(err)
    assert "guidance_scales=5 must be a list, e.g. guidance_scales=[5]" in str(raised(lambda: sweep_jobs(5, [0])))
    assert "strengths=0.5 must be a list" in str(raised(lambda: sweep_jobs([5], [0], 0.5)))
    assert "at least one value" in str(raised(lambda: sweep_jobs([], [0])))  # an empty list is still refused
    grid, results = run_sweep(_render, [1, 5], [0])  # the fix works
    assert len(results) == 2 and grid is not None
    assert len(sweep_jobs([1], [0], None)) == 1  # strengths=None: no strength axis


# P12: a render that ignores its seed
def test_a_render_that_ignores_its_seed_is_warned_once():
    from tools.sweep import run_sweep

    text = said(lambda: run_sweep(lambda guidance_scale, seed: _render(guidance_scale, 0), [1, 5], [0, 1, 2]))
    assert "seed 0 and seed 1 (guidance 1.0) are pixel for pixel the same" in text
    assert "the render ignores its seed" in text and "generator=make_generator(seed, device)" in text
    assert text.count("ignores its seed") == 1
    assert "ignores its seed" not in said(lambda: run_sweep(_render, [1, 5], [0, 1]))


# P11 and X43: MaskPainter(..., mask=) and set_mask(None)
def test_the_painter_starts_from_a_mask_and_set_mask_none_clears_it():
    from helpers.images import make_mask
    from helpers.painter import MaskPainter

    box = make_mask(SIZE, box=(0, 0, 32, 64))
    painter = MaskPainter(START, brush=8, mask=box)
    assert painter.painted == 0.5
    painter.set_mask(None)
    assert painter.painted == 0.0
    err = raised(lambda: painter.set_mask(np.zeros((64, 64), bool)))
    assert isinstance(err, TypeError) and "Image.fromarray(array.astype(np.uint8) * 255)" in str(err)
    assert "painter.set_mask(None)" in str(err)
    assert "make_mask(painter.size" in str(raised(lambda: painter.set_mask("mask.png")))


# Y7: a numpy mask in a panel's fixed=
def test_a_numpy_mask_in_a_panels_fixed_is_converted_as_a_call_converts_it(pipes, tmp_path):
    from helpers.panel import Panel

    array = np.zeros((64, 64), bool)
    array[16:48, 16:48] = True
    fixed = {"image": START, "mask_image": array, "height": 64, "width": 64}
    made = []
    text = said(lambda: made.append(Panel(pipes["inpaint"], prompt="a cat", num_inference_steps=1, seed=0,
                                          fixed=fixed, save_dir=tmp_path / "panel")))
    assert "mask_image is a boolean numpy array; made it a black-and-white picture" in text
    panel = made[0]
    assert isinstance(panel.fixed["mask_image"], Image.Image) and fixed["mask_image"] is array  # the learner's stays
    assert panel.generate(wait=True) and panel.results[0].image.size == SIZE

    err = raised(lambda: Panel(pipes["inpaint"], prompt="a cat", num_inference_steps=1,
                               fixed={**fixed, "mask_image": array.astype(np.float32)}))
    assert isinstance(err, TypeError) and "make_mask" not in str(err)
    assert "Image.fromarray((array * 255).round().astype(np.uint8))" in str(err)
    fix = Image.fromarray((array.astype(np.float32) * 255).round().astype(np.uint8))  # the fix it names works
    assert Panel(pipes["inpaint"], prompt="a cat", num_inference_steps=1, fixed={**fixed, "mask_image": fix})


# H3: a feather wider than the shape
def test_make_mask_refuses_a_feather_that_blurs_the_shape_away():
    from helpers.images import make_mask

    err = raised(lambda: make_mask((256, 256), box=(100, 100, 140, 140), feather=100))
    assert isinstance(err, ValueError) and "feather=100" in str(err) and "brightest pixel is 6 of 255" in str(err)
    assert "40 px box" in str(err) and "feather=10" in str(err) and "v > 0" not in str(err)
    assert make_mask((256, 256), box=(100, 100, 140, 140), feather=10).getextrema()[1] >= 200  # the fix keeps it
    assert make_mask((256, 256), ellipse=(100, 100, 140, 140), feather=10).getextrema()[1] >= 200
    text = said(lambda: make_mask((256, 256), ellipse=(100, 100, 140, 140), feather=15))
    assert "brightest pixel is 144 of 255" in text and "feather=10" in text
    assert said(lambda: make_mask((256, 256), ellipse=(64, 64, 192, 192), feather=12)) == ""


# H6: with_trigger given a list of prompts
def test_with_trigger_takes_one_prompt_and_names_the_list_form():
    from helpers.checkpoints import with_trigger

    repo = "ogkalu/Comic-Diffusion"
    prompts = ["Astronaut in a jungle", "a castle"]
    err = raised(lambda: with_trigger(repo, prompts))
    assert isinstance(err, TypeError) and "a list of 2" in str(err)
    assert "[with_trigger(repo_id, p) for p in prompts]" in str(err)
    fixed = [with_trigger(repo, p) for p in prompts]  # the fix works
    assert fixed[0].startswith("Astronaut in a jungle, ") and fixed[0] != prompts[0]
    assert isinstance(raised(lambda: with_trigger(repo, None)), TypeError)


# H8: a max_width the row cannot meet
def test_true_size_row_says_when_max_width_cannot_be_met():
    from helpers import grid

    pictures = [Image.new("RGB", (256, 256)), Image.new("RGB", (256, 256), "white")]
    rows = []
    text = said(lambda: rows.append(grid.true_size_row(pictures, max_width=100)))
    wide = rows[0].width
    assert "max_width=100 cannot be met" in text and f"at least {grid.MIN_COLUMN} px wide" in text
    assert f"the row is {wide} px wide" in text and f"max_width={wide}" in text
    assert said(lambda: grid.true_size_row(pictures, max_width=wide)) == ""  # the width it names is met
    assert said(lambda: grid.true_size_row(pictures)) == ""


# H14: pick_device("gpu")
def test_pick_device_with_a_word_that_is_no_device_names_real_ones():
    from helpers.device import DEVICES, pick_device

    err = raised(lambda: pick_device("gpu"))
    assert isinstance(err, TypeError) and "'gpu' is not a torch device name" in str(err)
    assert "device = 'cuda' (NVIDIA) or 'mps' (Apple)" in str(err) and "device = 'gpu'" not in str(err)
    assert pick_device() in DEVICES  # the fix works
    assert "write device = 'cuda'" in str(raised(lambda: pick_device("CUDA")))  # a real name is echoed
