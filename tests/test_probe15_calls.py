"""From a fifteenth probe: None where a value goes, old PIL names, read-only arrays, callbacks' tensors, classes."""

import numpy as np
import pytest
import torch
from conftest import checked_pipes, noted, raised, said
from PIL import Image, ImageOps

START = Image.new("RGB", (64, 64), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()



def test_none_where_a_picture_or_a_number_goes_is_named(pipes):
    picture = START.copy()
    picture = picture.thumbnail((32, 32))  # in place: returns None
    err = raised(lambda: pipes["img2img"]("a", image=picture, num_inference_steps=2))
    assert "it is None" in str(err) and "thumbnail((512, 512)) on a line of its own" in str(err)
    err = raised(lambda: pipes["img2img"]("a", num_inference_steps=2))
    assert "needs image=" in str(err)  # left out: the message for a missing picture, as before
    err = raised(lambda: pipes["img2img"]("a", image=START, guidance_scale=None, num_inference_steps=2))
    assert "guidance_scale=None" in str(err) and "default (7.5)" in str(err)


def test_pil_and_numpy_slips_get_their_ownnoted():
    meaning, fix = noted(lambda: Image.ANTIALIAS)
    assert "Image.LANCZOS" in fix
    array = np.asarray(START)
    meaning, fix = noted(lambda: array.__setitem__((0, 0), 1))
    assert "np.array(picture)" in fix
    meaning, fix = noted(lambda: Image.fromarray(torch.zeros(1, 3, 4, 4)))
    assert "permute(1, 2, 0)" in fix
    meaning, fix = noted(lambda: ImageOps.invert(Image.new("RGBA", (4, 4))))
    assert "mask.convert('L')" in fix
    meaning, fix = noted(lambda: ImageOps.fit(START, 32))
    assert "ImageOps.fit(picture, (512, 512))" in fix
    output = type("Output", (), {"images": [START], "nsfw_content_detected": None})()
    meaning, fix = noted(lambda: output.nsfw_content_detected[0])
    assert "safety_checker=None" in meaning
    meaning, fix = noted(lambda: [None][0][0])
    assert not meaning  # a None of the learner's own: Python's message says it


def test_a_callback_reading_a_tensor_it_did_not_ask_for(pipes):
    def peek(pipe, step, timestep, callback_kwargs):
        callback_kwargs["prompt_embeds"].mean()
        return callback_kwargs

    meaning, fix = noted(lambda: pipes["t2i"]("a", height=64, width=64, num_inference_steps=2,
                                              callback_on_step_end=peek))
    assert "callback_on_step_end_tensor_inputs=['latents', 'prompt_embeds']" in fix
    pipes["t2i"]("a", height=64, width=64, num_inference_steps=2, callback_on_step_end=peek,
                 callback_on_step_end_tensor_inputs=["latents", "prompt_embeds"])  # the fix runs


def test_kandinsky_compel_the_other_upscaler_class_and_a_high_solver_order():
    from diffusers import DPMSolverMultistepScheduler, StableDiffusionLatentUpscalePipeline

    from helpers import explain
    from helpers.loading import load_args

    kandinsky = type("KandinskyV22Img2ImgCombinedPipeline", (), {})()
    meaning, fix = noted(lambda: kandinsky.tokenizer)
    assert "prior_tokenizer" in meaning
    was_on = explain._STATE["enabled"]
    explain.enable()
    try:
        repo = "stabilityai/stable-diffusion-x4-upscaler"
        x2 = StableDiffusionLatentUpscalePipeline.from_pretrained(repo, **load_args(repo))
        err = raised(lambda: x2("a", image=START, num_inference_steps=2))
        assert "StableDiffusionUpscalePipeline.from_pretrained(repo_id" in str(err)
        text = said(lambda: DPMSolverMultistepScheduler.from_config(x2.scheduler.config, solver_order=5),
                    only_call_warnings=True)
        assert "solver_order=5 runs as 3" in text
    finally:
        if not was_on:
            explain.disable()


def test_panel_results_in_a_grid_and_a_faint_mask_get_fixes_that_work():
    from helpers import checks
    from helpers.grid import captioned_grid
    from helpers.images import mask_coverage
    from helpers.panel_results import Result

    err = raised(lambda: captioned_grid([Result(START, {}, 1.0, caption="seed 0")], captions=["a"]))
    assert "[r.image for r in panel.results]" in str(err)
    faint = Image.new("L", (64, 64), 0)
    faint.paste(40, (16, 16, 48, 48))
    faint.paste(6, (0, 0, 64, 8))  # a faint haze along the top, as a wide blur leaves it
    err = raised(lambda: checks.check_mask(faint, START))
    assert "v >= 20" in str(err)
    hardened = faint.point(lambda v: 255 if v >= 20 else 0)  # the fix as the message writes it
    assert mask_coverage(hardened) == 0.25  # the square only: the haze stays kept
