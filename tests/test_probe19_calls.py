"""From a nineteenth probe: what a cell's own code shows, TCD without its LoRA, finished latents handed over."""

import pytest
from conftest import checked_pipes, raised, said
from PIL import Image

START = Image.new("RGB", (64, 64), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_a_cells_unkept_picture_and_seeds_that_miss_torch(pipes, monkeypatch):
    import IPython

    from helpers import explain
    from helpers.cellcheck import check_cell

    notes = {"photo": START, "d": {}, "pipeline": pipes["t2i"]}
    words = said(lambda: check_cell("photo.resize((32, 32))\nprint(photo.size)", notes))
    assert "photo.resize(...) makes a new picture" in words and "photo = photo.resize(...)" in words
    assert said(lambda: check_cell("photo = photo.resize((32, 32))\nprint(photo.size)", notes)) == ""
    assert said(lambda: check_cell("print(1)\nphoto.resize((32, 32))", notes)) == ""  # the last line is shown
    assert said(lambda: check_cell("d.copy()\nprint(1)", notes)) == ""  # not a picture
    words = said(lambda: check_cell("import numpy\nnumpy.random.seed(0)\nout = pipeline(prompt)", notes))
    assert "numpy.random.seed() seeds numpy's random numbers" in words and "generator=make_generator" in words
    assert said(lambda: check_cell("np.random.seed(0)\nout = pipeline(prompt, generator=g)", notes)) == ""
    assert said(lambda: check_cell("np.random.seed(0)\nnoise = np.random.rand(8)", notes)) == ""  # no pipeline
    # the wiring: IPython hands each cell's text to the check before it runs, with the notebook's names
    shell = type("Shell", (), {"user_ns": notes})()
    monkeypatch.setattr(IPython, "get_ipython", lambda: shell)
    info = type("Info", (), {"raw_cell": "photo.resize((32, 32))\nprint(1)"})()
    assert explain._STATE["enabled"]  # the module's pipes fixture switched the checks on
    assert "makes a new picture" in said(lambda: explain._pre_run_cell(info))


def test_tcd_without_its_lora(pipes):
    from diffusers import PNDMScheduler, TCDScheduler

    pipe = pipes["t2i"]
    before = pipe.scheduler
    pipe.scheduler = TCDScheduler.from_config(before.config)
    try:
        words = said(lambda: pipe("a castle", height=64, width=64, num_inference_steps=1), only_call_warnings=True)
    finally:
        pipe.scheduler = before
    assert "TCDScheduler makes a picture in 4–8 steps only with weights distilled for it" in words
    assert "h1t/TCD-SD15-LoRA" in words and "eta=0.3" in words
    assert isinstance(pipe.scheduler, PNDMScheduler)


def test_the_prior_output_unpacked_and_the_mask_blur_advice(pipes):
    from helpers.callbatch import check_text_where_embeds_go
    from helpers.callnames import hint_for

    class Decoder:
        pass

    err = raised(lambda: check_text_where_embeds_go(Decoder(), {"image_embeds": "image_embeds",
                                                                 "negative_image_embeds": "negative_image_embeds"}))
    assert ".to_tuple()" in str(err) and "combined" not in str(err)
    err = raised(lambda: check_text_where_embeds_go(Decoder(), {"image_embeds": "a red cat"}))
    assert "combined pipeline" in str(err)  # text as the embeddings: the combined pipeline, as before
    text = hint_for(pipes["img2img"], ["prompt", "image", "mask_image"], "mask_blur")
    assert "binarizes it" in text and "ImageFilter.GaussianBlur(8)" in text
    err = raised(lambda: pipes["img2img"]("a castle", image="IMG 2041.HEIC", strength=0.5))
    assert "is a path or URL" in str(err) and "reads like a prompt" not in str(err)


def test_a_padded_canvas_for_outpainting_is_not_called_rotated():
    from helpers.callranges import check_rotated_canvas

    canvas = Image.new("RGB", (96, 64))
    canvas.paste(Image.new("RGB", (64, 64), (120, 80, 40)), (16, 0))
    mask = Image.new("L", (96, 64), 255)
    assert said(lambda: check_rotated_canvas({"image": canvas, "mask_image": mask})) == ""
    assert "rotate(90)" in said(lambda: check_rotated_canvas({"image": canvas}))


def test_finished_latents_handed_to_the_refiner(pipes):
    from diffusers import AutoPipelineForImage2Image

    from helpers.loading import load_args

    repo = "stabilityai/stable-diffusion-xl-refiner-1.0"
    refiner = AutoPipelineForImage2Image.from_pretrained(repo, **load_args(repo))
    refiner.set_progress_bar_config(disable=True)
    finished = refiner("a", image=START, strength=0.5, num_inference_steps=2, output_type="latent").images
    words = said(lambda: refiner("a", image=finished, denoising_start=0.8, num_inference_steps=4),
                 only_call_warnings=True)
    assert "the latents of a finished run" in words and "denoising_end=0.8" in words
    stopped = refiner("a", image=START, strength=0.5, num_inference_steps=4, denoising_end=0.5,
                      output_type="latent").images
    words = said(lambda: refiner("a", image=stopped, denoising_start=0.5, num_inference_steps=4),
                 only_call_warnings=True)
    assert "finished run" not in words
