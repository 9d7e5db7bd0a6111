"""Probes 11–13's last open cases: each is refused with its own fix, or said once, instead of going wrong silently."""

import numpy as np
import pytest
import torch
from conftest import checked_pipes, raised, said
from PIL import Image

START = Image.new("RGB", (64, 64), (120, 80, 40))


class Settings:
    """A learner's own object where a scheduler goes."""


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_a_tuple_of_pictures_and_a_scheduler_name_or_enum_are_refused_with_the_fix(pipes):
    from diffusers import PNDMScheduler
    from diffusers.schedulers import KarrasDiffusionSchedulers

    err = raised(lambda: pipes["img2img"](["a", "b"], image=(START, START), num_inference_steps=2))
    assert isinstance(err, TypeError) and "image is a tuple of 2" in str(err) and "list(that_tuple)" in str(err)
    t2i = pipes["t2i"]
    kept = t2i.scheduler
    try:
        t2i.scheduler = KarrasDiffusionSchedulers.DPMSolverMultistepScheduler
        err = raised(lambda: t2i("a", num_inference_steps=2, height=64, width=64))
        assert "enum member KarrasDiffusionSchedulers.DPMSolverMultistepScheduler" in str(err)
        assert "from diffusers import DPMSolverMultistepScheduler" in str(err)
        t2i.scheduler = Settings()
        err = raised(lambda: t2i("a", num_inference_steps=2, height=64, width=64))
        assert "a Settings, not a scheduler" in str(err)
    finally:
        t2i.scheduler = kept
    assert isinstance(kept, PNDMScheduler)


def test_a_mistyped_scheduler_setting_lists_what_the_class_takes(pipes):
    from diffusers import DPMSolverMultistepScheduler

    config = pipes["t2i"].scheduler.config
    err = raised(lambda: DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver+++"))
    assert isinstance(err, ValueError) and isinstance(err.__cause__, NotImplementedError)
    assert "'sde-dpmsolver++'" in str(err) and "did you mean algorithm_type='dpmsolver++'" in str(err)
    err = raised(lambda: DPMSolverMultistepScheduler.from_config(config, solver_type="midpoints"))
    assert "'heun'" in str(err) and "solver_type='midpoint'" in str(err)
    assert DPMSolverMultistepScheduler.from_config(config, algorithm_type="dpmsolver++").config.algorithm_type \
        == "dpmsolver++"


def test_compel_batches_parsed_prompts_and_swap_are_told(pipes):
    from compel import Compel

    t2i = pipes["t2i"]
    compel = Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder)
    embeds = compel(["a cat", "a castle"])
    err = raised(lambda: pipes["img2img"](prompt_embeds=embeds, negative_prompt="ugly", image=[START, START],
                                          num_inference_steps=2))
    assert "prompt_embeds holds 2 prompts" in str(err) and "negative_prompt=['ugly'] * 2" in str(err)
    # without guidance no negative is made, and one prompt needs one negative: both run as before
    pipes["img2img"](prompt_embeds=embeds[:1], negative_prompt="ugly", image=START, num_inference_steps=2,
                     strength=0.5)
    err = raised(lambda: t2i(prompt_embeds=compel.parse_prompt_string("a cat"), num_inference_steps=2))
    assert "Conjunction" in str(err) and "compel(prompt)" in str(err)
    text = said(lambda: compel("a (black cat).swap(dog) in a jungle"), only_call_warnings=True)
    assert "(black cat).swap(...)" in text and "does nothing" in text
    assert torch.equal(compel("a cat.swap(dog)"), compel("a cat"))  # what the warning says, checked on compel itself


def test_depth_maps_that_are_black_inverted_or_raw_arrays_are_said(pipes):
    from diffusers import ControlNetModel, StableDiffusionControlNetImg2ImgPipeline

    from helpers.loading import load_args

    repo = "lllyasviel/control_v11f1p_sd15_depth"
    net = ControlNetModel.from_pretrained(repo, **load_args(repo))
    pipe = StableDiffusionControlNetImg2ImgPipeline(**pipes["t2i"].components, controlnet=net)
    pipe.set_progress_bar_config(disable=True)
    ramp = np.tile(np.linspace(0, 255, 64)[:, None], (1, 64)).astype(np.uint8)  # near (bottom) bright

    def run(control):
        return said(lambda: pipe("a", image=START, control_image=control, num_inference_steps=2, strength=0.5),
                    only_call_warnings=True)

    assert "brighter at the top" not in run(Image.fromarray(ramp).convert("RGB"))
    assert "If you inverted the map" in run(Image.fromarray(255 - ramp).convert("RGB"))
    dark = run(Image.fromarray((ramp / 255 * 5).astype(np.uint8)).convert("RGB"))
    assert "almost black (values 0–5 of 255)" in dark and "clipped to white" not in dark
    err = raised(lambda: pipe("a", image=START, control_image=ramp / 255.0, num_inference_steps=2))
    assert "2-D numpy array (64, 64) of floats" in str(err) and "array.max() * 255" in str(err)


def test_latents_scaled_for_another_vae_are_said_at_decode(pipes):
    from diffusers import StableDiffusionUpscalePipeline

    from helpers.loading import load_args

    t2i = pipes["t2i"]
    repo = "stabilityai/stable-diffusion-x4-upscaler"
    x4 = StableDiffusionUpscalePipeline.from_pretrained(repo, **load_args(repo))
    latents = t2i("a", height=64, width=64, num_inference_steps=2, output_type="latent").images
    text = said(lambda: x4.vae.decode(latents / x4.vae.config.scaling_factor), only_call_warnings=True)
    assert "scaling_factor 0.18215), and this VAE's is 0.08333" in text
    assert "different latent spaces" not in said(lambda: t2i.vae.decode(latents / t2i.vae.config.scaling_factor))
    assert "as they came" in said(lambda: t2i.vae.decode(latents.clone()), only_call_warnings=True)


def test_panel_results_order_history_and_change_inside_outside_arguments(pipes):
    from helpers.compare import change_inside_outside
    from helpers.images import make_mask
    from helpers.panel import Panel

    panel = Panel(pipes["t2i"], prompt="a", num_inference_steps=2, fixed={"height": 64, "width": 64})
    panel.generate(wait=True)
    panel.generate(wait=True)
    assert "newest first: results[-1] is an earlier picture" in said(lambda: panel.results[-1])
    assert panel.results[-1] is panel.results[1]  # said once, and the order stays what the panel documents
    err = raised(lambda: panel.history[0])
    assert "strip of thumbnails" in str(err) and "panel.results[0].image" in str(err)
    mask = make_mask((64, 64), box=(10, 10, 40, 40))
    err = raised(lambda: change_inside_outside(START, mask, START.rotate(90)))
    assert "the mask is in the wrong place" in str(err)
    inside, outside = change_inside_outside(START, START, mask)
    assert inside == outside == 0.0


def test_force_download_on_the_offline_twins_gets_its_own_note():
    from diffusers import AutoPipelineForImage2Image

    from helpers.loading import load_args
    from helpers.notes import note_for

    sd = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    err = raised(lambda: AutoPipelineForImage2Image.from_pretrained(sd, force_download=True, **load_args(sd)))
    meaning, fix = note_for(err)
    assert meaning.startswith("force_download=True") and "leave force_download= out" in fix
