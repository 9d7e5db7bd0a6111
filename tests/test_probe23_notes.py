"""From a twenty-third probe: torch habits on a pipeline, Kandinsky's latents decoded as SD's, a safety checker
replaced by a function, a key edited out of a list, diffusers' make_image_grid, an A1111 page pasted into a prompt,
OpenAI's erased-hole masks, and a cell run again after its pipeline's name was given to another model."""


import numpy as np
import pytest
from conftest import checked_pipes, noted, raised, run_cell, said
from PIL import Image

PHOTO = Image.new("RGB", (64, 64), (150, 90, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_torch_module_habits_on_a_pipeline_get_what_to_do_instead(pipes):
    pipe = pipes["img2img"]
    meaning, fix = noted(lambda: pipe.eval())
    assert "is not a torch module but a container of them" in meaning and "eval mode" in meaning
    assert fix.startswith("leave the line out")
    meaning, fix = noted(lambda: pipe.half())
    assert "fp16 on CUDA, float32 on CPU" in meaning and "pipeline.to(torch.float16) on CUDA only" in fix
    assert "fit_to_machine(pipeline, device)" in noted(lambda: pipe.cuda())[1]
    assert noted(lambda: pipe.no_such_method()) == ("", "")  # a name no habit explains: no guess


def test_kandinsky_has_no_vae_and_its_latents_are_decoded_by_itself():
    def to_picture(pipe, latents):
        return pipe.vae.decode(latents / pipe.vae.config.scaling_factor).sample

    class KandinskyV22Img2ImgCombinedPipeline:
        def __getattr__(self, name):
            raise AttributeError(f"'KandinskyV22Img2ImgCombinedPipeline' object has no attribute '{name}'")

    meaning, fix = noted(lambda: to_picture(KandinskyV22Img2ImgCombinedPipeline(), None))
    assert "decodes with MoVQ" in meaning and "not scaled by a scaling_factor" in meaning
    assert "call it without output_type='latent'" in fix
    assert "pipeline.decoder_pipe.movq.decode(latents, force_not_quantize=True).sample" in fix
    tiling = AttributeError("'KandinskyV22Img2ImgCombinedPipeline' object has no attribute 'enable_vae_tiling'")
    assert "no VAE tiling or slicing" in noted(lambda: (_ for _ in ()).throw(tiling))[0]


def test_a_safety_checker_returning_one_flag_is_told_to_return_a_list_or_be_none(pipes):
    pipe = pipes["t2i"]
    kept = pipe.safety_checker
    pipe.safety_checker = lambda images, clip_input: (images, False)
    try:
        meaning, fix = noted(lambda: pipe("a cat", num_inference_steps=1, height=64, width=64))
        pipe.safety_checker = lambda images, clip_input: (images, [False] * len(images))  # the fix runs
        pipe("a cat", num_inference_steps=1, height=64, width=64)
    finally:
        pipe.safety_checker = kept
    assert "one flag per picture (a list)" in meaning and "pipeline.safety_checker = None" in fix


def test_a_key_edited_out_of_the_list_above_names_the_keys_the_dict_holds():
    from helpers.notes import note_for

    names = {"kept_db": {0.3: 20.0, 0.6: 25.0}}
    err = raised(lambda: run_cell("print([kept_db[s] for s in (0.2, 0.6)])", names))
    meaning, fix = note_for(err)
    assert meaning.startswith("kept_db has no key 0.2; its keys are 0.3, 0.6.")
    assert "kept_db[0.3]" in fix and "put 0.2 back into the list that filled kept_db" in fix
    assert note_for(raised(lambda: run_cell("kept_db['x']", names, 2))) is None  # no key of its kind: no guess
    settings = {"settings": {"defaults": {}, "strength=0.6": {}}}
    assert note_for(raised(lambda: run_cell("settings['defualts']", settings, 3)))[1] == \
        "did you mean settings['defaults']?"
    assert note_for(raised(lambda: {}["a"])) is None  # raised outside a cell's line with a dict named in it


def test_make_image_grid_of_pictures_of_different_sizes_is_said_and_the_same_sizes_are_not(pipes):
    from diffusers.utils import make_image_grid

    big = PHOTO.resize((128, 128))
    text = said(lambda: make_image_grid([PHOTO, big], rows=1, cols=2), only_call_warnings=True)
    assert "differ in size (64x64 first, 128x128 among them)" in text and "captioned_grid(images)" in text
    assert said(lambda: make_image_grid([PHOTO, PHOTO], rows=1, cols=2), only_call_warnings=True) == ""
    assert said(lambda: make_image_grid([PHOTO, big], rows=1, cols=2, resize=64), only_call_warnings=True) == ""
    assert make_image_grid([PHOTO, big], rows=1, cols=2).size == (128, 64)  # diffusers' own result, unchanged


def test_an_a1111_page_pasted_into_the_prompt_names_the_negative_and_the_settings():
    from helpers.promptslips import pasted_settings

    pasted = "a cat\nNegative prompt: ugly, blurry\nSteps: 20, Sampler: Euler a, CFG scale: 7, Seed: 5"
    text = pasted_settings("prompt", pasted)
    assert "Pass them as negative_prompt='ugly, blurry'" in text and "num_inference_steps=" in text
    assert pasted_settings("prompt", "a negative prompt: the art of saying no") is None
    assert pasted_settings("prompt", "Steps: a staircase at dawn") is None
    assert "negative_prompt=" not in pasted_settings("negative_prompt", "ugly, Steps: 20, Sampler: Euler a, ")


def test_the_pasted_page_is_said_at_the_call(pipes):
    pasted = "a cat\nNegative prompt: ugly, blurry"
    text = said(lambda: pipes["t2i"](pasted, num_inference_steps=1, height=64, width=64), only_call_warnings=True)
    assert "prompt: it holds A1111's \"Negative prompt:\" line" in text


def _erased(photo_like: bool) -> Image.Image:
    """A 64 px RGBA mask: opaque except a transparent box, over a photo (many tones) or one brush colour."""
    rgb = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8) if photo_like else \
        np.full((64, 64, 3), (255, 0, 0), np.uint8)
    alpha = np.full((64, 64), 255, np.uint8)
    alpha[8:32, 8:40] = 0
    return Image.fromarray(np.dstack([rgb, alpha]), "RGBA")


def test_a_photo_with_a_hole_erased_names_openais_convention_and_not_its_colour():
    from helpers import imagecheck
    from helpers.checks import check_mask

    text = said(lambda: imagecheck._to_mask(_erased(True), PHOTO))
    assert "OpenAI's image-edit convention, the other way round" in text and "81% of it is opaque" in text
    assert "coloured" not in text and "invert it" not in text  # its colours are not read; one warning, not two
    strokes = said(lambda: check_mask(_erased(False), PHOTO, allow_full=True))
    assert "using its alpha channel (opaque = repaint)" in strokes and "OpenAI" not in strokes


def test_a_cell_run_again_after_its_pipeline_name_was_given_to_another_model_is_said_once():
    from helpers import cellpipes

    class StableDiffusionInpaintPipeline:
        pass

    class KandinskyV22InpaintCombinedPipeline:
        pass

    def run(text, pipeline):
        cellpipes.enter_cell(text)
        try:
            return said(lambda: cellpipes.check_cell_pipeline(pipeline))
        finally:
            cellpipes.leave_cell()

    cell = "castles['SD Inpainting'] = pipeline(prompt=prompt).images[0]  # probe23"
    assert run(cell, StableDiffusionInpaintPipeline()) == ""
    assert run(cell, StableDiffusionInpaintPipeline()) == ""  # the same model again: nothing to say
    text = run(cell, KandinskyV22InpaintCombinedPipeline())
    assert "this cell ran before with StableDiffusionInpaintPipeline, and the pipeline it calls is now a " \
           "KandinskyV22InpaintCombinedPipeline" in text
    assert run(cell + "  # edited", KandinskyV22InpaintCombinedPipeline()) == ""  # an edited cell is a new cell
    cellpipes.leave_cell()
    assert said(lambda: cellpipes.check_cell_pipeline(KandinskyV22InpaintCombinedPipeline())) == ""  # no cell


def test_the_cell_hooks_tell_which_cell_calls(pipes):
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    from helpers import explain

    shell = InteractiveShell.instance()
    explain.enable(shell)
    try:
        shell.user_ns.update(pipe=pipes["t2i"], kw={"prompt": "a cat", "num_inference_steps": 1, "height": 64,
                                                      "width": 64})
        cell = "out = pipe(**kw)  # the cell a learner runs again"
        with capture_output():
            first = said(lambda: shell.run_cell(cell))
        shell.user_ns.update(pipe=pipes["img2img"], kw={"prompt": "a cat", "image": PHOTO, "num_inference_steps": 1,
                                                         "strength": 1.0})
        with capture_output():
            again = said(lambda: shell.run_cell(cell))
    finally:
        explain.disable(shell)
        InteractiveShell.clear_instance()
        explain.enable()  # the module's other tests run with the checks on
    assert "ran before with" not in first
    assert "pipe was a StableDiffusionPipeline when this cell ran before, and is now a " \
           "StableDiffusionImg2ImgPipeline" in again  # said before the cell runs (a twenty-fourth probe)


def test_a_misspelt_name_of_a_library_object_gets_the_close_name_and_no_guess_without_one(pipes):
    import torch

    meaning, fix = noted(lambda: pipes["img2img"].schedular)
    assert "StableDiffusionImg2ImgPipeline has no .schedular; it has .scheduler" in meaning
    assert fix.startswith("did you mean .scheduler?")
    assert "did you mean .in_channels?" in noted(lambda: pipes["t2i"].unet.config.in_channel)[1]
    assert "did you mean .resize?" in noted(lambda: PHOTO.resise((32, 32)))[1]
    assert "did you mean .cpu?" in noted(lambda: torch.zeros(1).cpuu())[1]
    assert noted(lambda: PHOTO.shapeless) == ("", "")  # nothing close: no note
    assert "imag" not in noted(lambda: torch.zeros(1).images)[1]  # a name two letters shorter is no typo of it
