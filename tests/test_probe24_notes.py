"""From a twenty-fourth probe: a loop over one number in brackets, a tensor's habit on a picture, a keyword given in
the call and again in a ** dict, one picture's latents decoded without the batch axis, and a cell run again after
another model took the name it uses, said before it runs."""


import pytest
import torch
from conftest import checked_pipes, noted, raised, run_cell, said
from PIL import Image

PHOTO = Image.new("RGB", (64, 64), (150, 90, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_a_loop_over_one_number_in_brackets_is_told_the_comma():
    from helpers.notes import note_for

    meaning, fix = note_for(raised(lambda: run_cell("timeline_scales = (7.5)\nfor scale in timeline_scales:\n"
                                                    "    pass", {})))
    assert meaning.startswith("timeline_scales is 7.5, one number") and "(7.5) is just 7.5" in meaning
    assert "timeline_scales = (7.5,)" in fix and "timeline_scales = [7.5]" in fix
    assert "a pair (width, height)" in noted(lambda: PHOTO.resize(64))[0]  # resize's own note still comes first
    assert note_for(raised(lambda: run_cell("for x in y:\n    pass", {"y": None}, 2))) is None  # not a number


def test_a_tensor_habit_on_a_picture_says_it_is_a_picture():
    meaning, fix = noted(lambda: PHOTO.to("cpu"))
    assert "this is a PIL picture (64x64, RGB), not a torch tensor, so it has no .to()" in meaning
    assert "the pipeline moves what it needs" in fix
    assert "picture.copy()" in noted(lambda: PHOTO.clone())[1]


def test_a_keyword_in_the_call_and_in_a_double_star_dict_names_both(pipes):
    from helpers.notes import note_for

    cell = ("for name, arguments in settings.items():\n    image = pipe(\n        'a cat', image=photo,\n"
            "        num_inference_steps=4, strength=1.0, **arguments,\n    ).images[0]\n")
    names = {"settings": {"steps=8": {"num_inference_steps": 8}}, "pipe": pipes["img2img"], "photo": PHOTO}
    meaning, fix = note_for(raised(lambda: run_cell(cell, names, 3)))
    assert "num_inference_steps is given twice" in meaning and "holds num_inference_steps=8" in meaning
    assert "**{'num_inference_steps': <the call's value>, **arguments}" in fix


def test_one_pictures_latents_without_the_batch_axis_are_refused_by_vae_decode(pipes):
    pipe = pipes["t2i"]
    latents = pipe("a cat", num_inference_steps=1, height=64, width=64, output_type="latent").images
    err = raised(lambda: pipe.vae.decode(latents[0] / pipe.vae.config.scaling_factor))
    assert isinstance(err, ValueError) and "shape (4, 8, 8), one picture's latents without the batch axis" in str(err)
    assert pipe.vae.decode(latents[0:1] / pipe.vae.config.scaling_factor).sample.shape == (1, 3, 64, 64)


def test_a_cell_that_names_a_pipeline_now_of_another_class_is_said_before_it_runs(pipes):
    from helpers import cellpipes

    cell = "default = inspect.signature(type(pipeline).__call__).parameters['strength'].default  # probe24"
    try:
        assert said(lambda: cellpipes.enter_cell(cell, {"pipeline": pipes["img2img"]})) == ""
        text = said(lambda: cellpipes.enter_cell(cell, {"pipeline": pipes["t2i"]}))
        assert "pipeline was a StableDiffusionImg2ImgPipeline when this cell ran before, and is now a " \
               "StableDiffusionPipeline" in text and "run the cell that loads StableDiffusionImg2ImgPipeline" in text
        assert said(lambda: cellpipes.check_cell_pipeline(pipes["t2i"])) == ""  # said once: not again at the call
        assert said(lambda: cellpipes.enter_cell(cell, {"pipeline": pipes["t2i"]})) == ""  # once
        back = said(lambda: cellpipes.enter_cell(cell + " \n", {"pipeline": pipes["img2img"]}))  # the same cell
        assert "pipeline was a StableDiffusionPipeline when this cell ran before" in back  # changed back: said
        loading = "del pipeline\npipeline = AutoPipelineForImage2Image.from_pretrained(repo_id)  # probe24"
        for model in ("t2i", "img2img", "t2i"):  # a loading cell run again replaces the name: nothing to say
            assert said(lambda m=model: cellpipes.enter_cell(loading, {"pipeline": pipes[m]})) == ""
    finally:
        cellpipes.leave_cell()


def test_a_value_twice_names_the_function_that_passed_it_and_odd_latents_stop_the_x2_upscaler(pipes):
    from diffusers import StableDiffusionLatentUpscalePipeline

    from helpers.loading import load_args

    pipe = pipes["img2img"]

    def refine(**kwargs):  # the chapter's refine(): the prompt by position, the rest from kwargs
        return pipe("a cat", **{"image": PHOTO, "strength": 1.0, "num_inference_steps": 1, **kwargs})

    err = raised(lambda: refine(prompt="a castle"))
    assert "refine() passes one by position" in str(err) and "Pass arguments by name" not in str(err)
    assert "once by position (a value in its place) and once as prompt=" in str(
        raised(lambda: pipe("a cat", image=PHOTO, prompt="x")))
    x2 = "stabilityai/sd-x2-latent-upscaler"
    upscaler = StableDiffusionLatentUpscalePipeline.from_pretrained(x2, **load_args(x2, passed=["vae"]), vae=pipe.vae)
    upscaler.set_progress_bar_config(disable=True)
    odd = raised(lambda: upscaler("a cat", image=torch.zeros(1, 4, 37, 37), num_inference_steps=1))
    assert isinstance(odd, ValueError) and "latents of 37×37, from a 296×296 picture" in str(odd)
    assert "such as 288 or 304 px" in str(odd)
    assert upscaler("a cat", image=torch.zeros(1, 4, 8, 8), num_inference_steps=1,
                    output_type="latent").images.shape[-1] == 16  # even sides run
