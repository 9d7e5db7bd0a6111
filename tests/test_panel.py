"""The try-it-yourself panel, driven the way a learner would: set values, click, read the result."""

import json
import time

import pytest
import torch
from PIL import Image

from helpers.fingerprint import fingerprint
from helpers.panel import Panel


@pytest.fixture(scope="module")
def pipe():
    from diffusers import AutoPipelineForImage2Image

    p = AutoPipelineForImage2Image.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5",
                                                   dtype=torch.float32, use_safetensors=True)
    p.set_progress_bar_config(disable=True)
    return p


@pytest.fixture
def panel(pipe, tmp_path):
    init = Image.new("RGB", (128, 128), (90, 120, 60))
    return Panel(pipe, prompt="Astronaut in a jungle", guidance_scale=7.5, num_inference_steps=4, strength=0.5,
                 fixed={"image": init}, save_dir=tmp_path)


def test_click_makes_a_captioned_image_and_keeps_history(panel):
    assert panel.generate(wait=True)
    first = panel.image.value
    assert first and "guidance=7.5" in panel.caption.value and "strength=0.5" in panel.caption.value
    panel.guidance_scale.value = 12.0
    panel.generate_button.click()
    panel.wait()
    assert "guidance=12.0" in panel.caption.value
    assert panel.image.value != first
    assert len(panel.results) == 2 and len(panel.history.children) == 1
    assert "guidance=7.5" in panel.history.children[0].children[1].value


def test_same_seed_same_fingerprint_new_seed_new_picture(panel):
    panel.generate(wait=True)
    a = fingerprint(panel.results[0].image)
    panel.generate(wait=True)
    assert fingerprint(panel.results[0].image) == a
    panel.seed.value = 7
    panel.generate(wait=True)
    assert panel.results[0].image.tobytes() != panel.results[1].image.tobytes()


def test_an_error_is_shown_in_the_panel_and_history_survives(panel):
    panel.generate(wait=True)
    panel.strength.value = 0.1  # 4 steps × 0.1 leaves no step to run
    panel.generate(wait=True)
    assert "ValueError" in panel.status.value and "num_inference_steps" in panel.status.value
    assert len(panel.results) == 1 and not panel.generate_button.disabled
    panel.strength.value = 0.5
    panel.generate(wait=True)
    assert "done" in panel.status.value and len(panel.results) == 2


def test_a_double_click_runs_once(panel):
    assert panel.generate() is True
    assert panel.generate() is False  # the button is busy
    panel.wait()
    assert panel.runs == 1 and len(panel.results) == 1


def test_moving_a_slider_does_not_re_encode_the_prompt(panel):
    calls = []
    inner = panel.encode
    panel.encode = lambda *a: calls.append(a) or inner(*a)
    panel.generate(wait=True)
    panel.guidance_scale.value = 3.0
    panel.seed.value = 3
    panel.generate(wait=True)
    assert len(calls) == 1
    panel.prompt.value = "a cat"
    panel.generate(wait=True)
    assert len(calls) == 2


def test_live_mode_runs_on_slider_release(panel):
    panel.live.value = True
    panel.guidance_scale.value = 4.0
    panel.wait()
    assert panel.runs == 1 and "guidance=4.0" in panel.caption.value


def test_stop_interrupts_and_keeps_the_last_picture(pipe, tmp_path):
    slow = Panel(pipe, prompt="x", num_inference_steps=100, strength=1.0,
                 fixed={"image": Image.new("RGB", (128, 128))}, save_dir=tmp_path)
    slow.generate()
    time.sleep(0.3)
    slow.stop()
    slow.wait()
    assert "stopped" in slow.status.value and slow.results == []
    assert not pipe._interrupt  # the pipeline is usable again
    slow.num_inference_steps.value = 2
    slow.generate(wait=True)
    assert len(slow.results) == 1


def test_save_writes_png_with_parameters(panel):
    with pytest.raises(RuntimeError, match="Generate first"):
        panel.save()
    panel.generate(wait=True)
    path = panel.save()
    meta = json.loads(Image.open(path).text["parameters"])
    assert meta["guidance_scale"] == 7.5 and meta["seed"] == 0 and meta["pipeline"] == "StableDiffusionImg2ImgPipeline"


def test_options_the_pipeline_does_not_take_are_refused(pipe):
    with pytest.raises(ValueError, match="controlnet_conditioning_scale"):
        Panel(pipe, prompt="x", controlnet_conditioning_scale=1.0)


def test_sdxl_refiner_prompts_are_encoded_once_too():
    from diffusers import AutoPipelineForImage2Image

    refiner = AutoPipelineForImage2Image.from_pretrained("stabilityai/stable-diffusion-xl-refiner-1.0")
    refiner.set_progress_bar_config(disable=True)
    p = Panel(refiner, prompt="Astronaut", negative_prompt="ugly", strength=0.5, num_inference_steps=2,
              fixed={"image": Image.new("RGB", (64, 64))})
    calls = []
    inner = p.encode
    p.encode = lambda *a: calls.append(a) or inner(*a)
    p.generate(wait=True)
    p.guidance_scale.value = 3.0
    p.generate(wait=True)
    assert len(calls) == 1 and len(p.results) == 2, p.status.value


def test_kandinsky_panel_passes_the_text_itself():
    from diffusers import AutoPipelineForImage2Image

    kandinsky = AutoPipelineForImage2Image.from_pretrained("kandinsky-community/kandinsky-2-2-decoder")
    p = Panel(kandinsky, prompt="Astronaut", strength=0.5, num_inference_steps=4,
              fixed={"image": Image.new("RGB", (64, 64)), "prior_num_inference_steps": 2})
    assert p.encode is None
    p.generate(wait=True)
    assert len(p.results) == 1, p.status.value
