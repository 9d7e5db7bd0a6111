"""Errors explained in the cell (helpers.explain): every pipeline call is checked first, known errors get a note.

Each probe is a mistake a learner makes in a notebook cell, run on the twins through the real pipeline classes.
An error must name the parameter and the fix; a silent change must become a CallWarning that says what changed.
"""

import io
import re
import types
import warnings

import numpy as np
import pytest
import torch
from conftest import raised
from PIL import Image

from helpers import explain
from helpers.checks import CallWarning
from helpers.loading import load_args
from helpers.notes import format_note, note_for

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def _load(cls, repo, **kw):
    pipe = cls.from_pretrained(repo, **load_args(repo), **kw)
    pipe.set_progress_bar_config(disable=True)
    return pipe


@pytest.fixture(scope="module")
def checked():
    import diffusers  # noqa: F401  (the wrapper needs diffusers imported to find the pipeline classes)

    explain.enable()
    yield
    explain.disable()


@pytest.fixture(scope="module")
def img2img(checked):
    from diffusers import AutoPipelineForImage2Image

    return _load(AutoPipelineForImage2Image, SD)


@pytest.fixture(scope="module")
def inpaint(checked):
    from diffusers import AutoPipelineForInpainting

    return _load(AutoPipelineForInpainting, "stable-diffusion-v1-5/stable-diffusion-inpainting")


@pytest.fixture(scope="module")
def kandinsky(checked):
    from diffusers import AutoPipelineForInpainting

    return _load(AutoPipelineForInpainting, "kandinsky-community/kandinsky-2-2-decoder-inpaint")


@pytest.fixture(scope="module")
def control(checked):
    from diffusers import ControlNetModel, StableDiffusionControlNetImg2ImgPipeline

    net = ControlNetModel.from_pretrained("lllyasviel/control_v11f1p_sd15_depth",
                                          **load_args("lllyasviel/control_v11f1p_sd15_depth"))
    return _load(StableDiffusionControlNetImg2ImgPipeline, SD, controlnet=net)


@pytest.fixture(scope="module")
def x4(checked):
    from diffusers import StableDiffusionUpscalePipeline

    return _load(StableDiffusionUpscalePipeline, "stabilityai/stable-diffusion-x4-upscaler")


def rgb(size=(64, 64)):
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8))


def box_mask(size=(64, 64)):
    m = Image.new("L", size, 0)
    m.paste(255, (8, 8, size[0] // 2, size[1] // 2))
    return m


def depth16(size=(64, 64)):
    return Image.fromarray(np.tile(np.linspace(300, 20000, size[0]), (size[1], 1)).astype(np.uint16))


def run(pipe, **kw):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pipe(**kw)
    return out, [str(w.message) for w in caught if issubclass(w.category, CallWarning)]


# ------------------------------------------------------------------ errors: the call cannot work

ERRORS = [
    ("steps 0", {"num_inference_steps": 0}, ValueError, r"num_inference_steps=0 must be at least 1"),
    ("steps float", {"num_inference_steps": 20.5}, TypeError, r"whole number.*such as 20"),
    ("steps 5000", {"num_inference_steps": 5000}, ValueError, r"5000 is more than the 1000 .*at most 1000"),
    ("strength nan", {"strength": float("nan")}, ValueError, r"strength=nan is not a finite number"),
    ("strength 1.5", {"strength": 1.5}, ValueError, r"strength=1.5 is outside \[0, 1\]"),
    ("guidance inf", {"guidance_scale": float("inf")}, ValueError, r"guidance_scale=inf is not a finite"),
    ("guidance -3", {"guidance_scale": -3}, ValueError, r"guidance_scale=-3 is negative"),
    ("typo", {"guidence_scale": 3}, TypeError, r"guidence_scale=.*ignored without a word.*guidance_scale="),
    ("seed=", {"seed": 3}, TypeError, r"seed=.*generator=torch.Generator\(\).manual_seed"),
    ("dtype in call", {"torch_dtype": torch.float16}, TypeError, r"belongs to from_pretrained"),
    ("generator int", {"generator": 0}, TypeError, r"generator=0 is a number.*manual_seed\(0\)"),
    ("image path", {"image": "cat.png"}, TypeError, r"image is a path or URL.*load_image"),
    ("prompt int", {"prompt": 5}, TypeError, r"prompt must be text.*quotes"),
    ("images count", {"num_images_per_prompt": 0}, ValueError, r"num_images_per_prompt=0 must be at least 1"),
    ("output type", {"output_type": "png"}, ValueError, r"output_type='png' is not one of"),
    ("3-D latents", {"image": torch.zeros(4, 8, 8)}, ValueError, r"3-D tensor.*output.images"),
    ("no image", {"image": None}, TypeError, r"image= was passed, but it is None"),
    ("whole output", {"image": type("StableDiffusionPipelineOutput", (), {"images": []})()}, TypeError,
     r"whole output.*output.images\[0\]"),
]


@pytest.mark.parametrize("label,change,error,message", ERRORS, ids=[e[0] for e in ERRORS])
def test_a_call_that_cannot_work_names_the_parameter_and_the_fix(img2img, label, change, error, message):
    kw = {"prompt": "a cat", "image": rgb(), "num_inference_steps": 4, **change}
    with pytest.raises(error, match=message):
        img2img(**kw)


def test_positional_number_in_the_wrong_place(checked):
    from diffusers import AutoPipelineForText2Image

    pipe = _load(AutoPipelineForText2Image, SD)
    with pytest.raises(TypeError, match=r"height must be a positive whole number.*by name"):
        pipe("a cat", 3.5)  # the learner meant guidance_scale; the second positional argument is height


def test_mask_of_another_size(inpaint):
    with pytest.raises(ValueError, match=r"mask_image is 32x32 but image is 64x64.*resize"):
        inpaint(prompt="x", image=rgb(), mask_image=box_mask((32, 32)), num_inference_steps=2)


def test_empty_mask(inpaint):
    with pytest.raises(ValueError, match="mask_image is all black.*white"):
        inpaint(prompt="x", image=rgb(), mask_image=Image.new("L", (64, 64), 0), height=64, width=64,
                num_inference_steps=2)


def test_control_image_of_another_size(control):
    with pytest.raises(ValueError, match=r"control_image is 48×48 but image is 64×64.*control_image.resize"):
        control(prompt="x", image=rgb(), control_image=rgb((48, 48)), num_inference_steps=2)


def test_control_image_resized_to_the_asked_size_says_so(control):
    out, said = run(control, prompt="x", image=rgb(), control_image=rgb((48, 48)), height=64, width=64,
                    num_inference_steps=2)
    assert out.images[0].size == (64, 64)
    # the control image is brought to the asked size, and the fix names that size (not its own)
    assert any(re.search(r"control_image is 48×48.*it is resized to 64×64.*resize\(\(64, 64\)\)\.$", s) for s in said)


def test_kandinsky_steps_zero(kandinsky):
    with pytest.raises(ValueError, match="num_inference_steps=0"):
        kandinsky(prompt="x", image=rgb(), mask_image=box_mask(), num_inference_steps=0)


def test_noise_level_of_the_x4_upscaler(x4):
    with pytest.raises(ValueError, match=r"noise_level=500 is outside \[0, 350\]"):
        x4(prompt="x", image=rgb((32, 32)), noise_level=500, num_inference_steps=2)


def test_the_checker_frames_do_not_bury_the_message(img2img):
    with pytest.raises(ValueError) as info:
        img2img(prompt="x", image=rgb(), num_inference_steps=0)
    frames = [f.name for f in info.traceback]
    assert "check_steps" not in frames  # the traceback ends at the call in the cell


# ------------------------------------------------------------------ silent changes become warnings


def test_cmyk_image_is_converted_not_taken_for_latents(img2img):
    out, said = run(img2img, prompt="x", image=rgb().convert("CMYK"), num_inference_steps=2)
    assert out.images[0].size == (64, 64)  # without the conversion: 512×512 from "latents"
    assert any("CMYK" in s and "converted it to RGB" in s for s in said)


def test_size_rounded_to_multiple_of_8_is_said(img2img):
    out, said = run(img2img, prompt="x", image=rgb((100, 60)), num_inference_steps=2)
    assert out.images[0].size == (96, 56)
    assert any(re.search(r"image is 100×60.*result will be 96×56", s) for s in said)


def test_inpainting_small_photo_says_it_becomes_512(inpaint):
    out, said = run(inpaint, prompt="x", image=rgb((96, 64)), mask_image=box_mask((96, 64)), num_inference_steps=2)
    assert out.images[0].size == (512, 512)
    assert any(re.search(r"96×64.*512×512.*stretched.*height=64, width=96", s) for s in said)


def test_kandinsky_size_says_its_64_pixel_blocks(kandinsky):
    out, said = run(kandinsky, prompt="x", image=rgb((100, 60)), mask_image=box_mask((100, 60)),
                    num_inference_steps=2, prior_num_inference_steps=2)
    assert out.images[0].size == (512, 512)
    assert any(re.search(r"100×60.*512×512.*height=64, width=128", s) for s in said)


def test_16_bit_depth_map_keeps_its_range(control):
    out, said = run(control, prompt="x", image=rgb(), control_image=depth16(), num_inference_steps=2)
    assert any("I;16" in s and "300–20000" in s for s in said)
    from helpers.pictures import to_rgb

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        converted = np.asarray(to_rgb(depth16(), "control_image"))
    white = (converted == 255).all(axis=-1).mean()
    assert white < 0.05  # a plain convert("RGB") makes 99 % of it white
    assert converted[0, 0, 0] == 0 and converted[0, -1, 0] == 255


def test_rgba_image_for_the_x4_upscaler_is_flattened(x4):
    see_through = rgb((32, 32)).convert("RGBA")
    see_through.putalpha(Image.new("L", (32, 32), 128))
    out, said = run(x4, prompt="x", image=see_through, num_inference_steps=2)
    assert out.images[0].size == (128, 128)  # without the conversion: 4 channels taken for latents
    assert any("transparency" in s for s in said)
    out, said = run(x4, prompt="x", image=rgb((32, 32)).convert("RGBA"), num_inference_steps=2)
    assert out.images[0].size == (128, 128) and said == []  # opaque, like most PNGs: nothing to say


def test_coloured_mask_is_explained(inpaint):
    red = Image.merge("RGB", (box_mask(), Image.new("L", (64, 64)), Image.new("L", (64, 64))))
    with pytest.raises(ValueError, match="grey at most"), warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        inpaint(prompt="x", image=rgb(), mask_image=red, height=64, width=64, num_inference_steps=2)
    assert any("pure red" in str(w.message) for w in caught)


def test_long_prompt_warns_with_the_dropped_words(img2img, caplog):
    out, said = run(img2img, prompt="a cat " * 60 + "UNIQUETAIL", image=rgb(), num_inference_steps=2)
    assert any("these words are ignored" in s and "uniquetail" in s.lower() for s in said)


def test_chinese_prompt_and_negative_prompt_without_guidance(img2img):
    _, said = run(img2img, prompt="一只猫", negative_prompt="blurry", guidance_scale=1.0, image=rgb(),
                  num_inference_steps=2)
    assert any("English" in s for s in said)
    assert any("negative_prompt is ignored" in s for s in said)


def test_huge_guidance_and_size_are_said(checked):
    from diffusers import AutoPipelineForText2Image

    pipe = _load(AutoPipelineForText2Image, SD)
    _, said = run(pipe, prompt="x", guidance_scale=50, height=64, width=64, num_inference_steps=2)
    assert any("guidance_scale=50 is far above" in s for s in said)
    native = pipe.unet.config.sample_size * pipe.vae_scale_factor
    with pytest.raises(ValueError, match="num_inference_steps=0"):  # checked before anything runs
        run(pipe, prompt="x", height=3 * native, width=native, num_inference_steps=0)
    _, said = run(pipe, prompt="x", height=3 * native, width=8, num_inference_steps=1)
    assert any(f"more than twice the {native}×{native}" in s for s in said)


def test_uint8_numpy_picture_becomes_an_image(img2img):
    _, said = run(img2img, prompt="x", image=np.zeros((64, 64, 3), np.uint8), num_inference_steps=2)
    assert any("uint8 numpy array" in s for s in said)


def test_a_good_call_is_silent_and_unchanged(img2img):
    image = rgb()
    out, said = run(img2img, prompt="a cat", image=image, num_inference_steps=4, strength=0.5,
                    generator=torch.Generator().manual_seed(0))
    assert said == []
    explain.disable()
    try:
        plain = img2img(prompt="a cat", image=image, num_inference_steps=4, strength=0.5,
                        generator=torch.Generator().manual_seed(0))
    finally:
        explain.enable()
    assert np.array_equal(np.asarray(out.images[0]), np.asarray(plain.images[0]))


def test_off_restores_diffusers_own_call(img2img):
    wrapped = type(img2img).__call__
    explain.disable()
    try:
        assert not hasattr(type(img2img).__call__, "_tutorial_original")
        assert type(img2img).__call__ is wrapped._tutorial_original
    finally:
        explain.enable()
    assert hasattr(type(img2img).__call__, "_tutorial_original")


# ------------------------------------------------------------------ long calls show progress


def test_a_long_call_prints_an_estimate_and_progress(img2img, monkeypatch, capsys):
    monkeypatch.setenv("TUTORIAL_PROGRESS_AFTER", "0")  # every call counts as long here
    monkeypatch.delattr(img2img, "_tutorial_seconds_per_step", raising=False)  # as if never called before
    img2img(prompt="x", image=rgb(), num_inference_steps=10, strength=0.5)
    err = capsys.readouterr().err
    assert re.search(r"This call will take about \d+ s \(\d+ steps × [0-9.]+ s, timed from its (first|second) step\)",
                     err)
    assert "step" in err and "100%" in err
    img2img(prompt="x", image=rgb(), num_inference_steps=10, strength=0.5)
    assert "timed from its last call" in capsys.readouterr().err  # said before the call starts


def test_a_slow_first_step_alone_is_not_taken_for_a_long_call(monkeypatch):
    from helpers import longrun

    clock = iter([0.0, 3.0, 3.1, 3.2, 3.3])  # a 3 s first step (warm-up), then 0.1 s steps: 50 steps ≈ 8 s
    monkeypatch.setattr(longrun.time, "perf_counter", lambda: next(clock))
    said = []
    watch = type("W", (), {"pipeline": None, "announce": lambda self, *a: said.append(a)})()
    phase = longrun._Phase(watch, "unet", 50)
    phase.pre(None, ())
    for _ in range(3):
        phase.post(None, (), None)
    assert said == []  # 3 s × 50 would have been "2 min", wrongly
    clock = iter([0.0, 3.0, 5.0])  # the second step is slow too: now it is said, from the second step
    phase = longrun._Phase(watch, "unet", 50)
    phase.pre(None, ())
    with pytest.raises(AttributeError):  # the fake announce returns no bar; reaching it is the point
        phase.post(None, (), None), phase.post(None, (), None)
    assert said and said[-1][3] == "timed from its second step" and said[-1][0] == 2.0


def test_a_short_call_stays_quiet(img2img, capsys):
    img2img(prompt="x", image=rgb(), num_inference_steps=2)
    assert "This call will take" not in capsys.readouterr().err


# ------------------------------------------------------------------ notes under known errors


def _raised(exc):
    try:
        raise exc
    except BaseException as err:  # noqa: BLE001
        return err


NOTES = [
    (torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"), r"smaller picture"),
    (RuntimeError("[enforce fail at alloc_cpu.cpp] DefaultCPUAllocator: can't allocate memory"), r"smaller picture"),
    (OSError("runwayml/stable-diffusion-v1-5 is not a local folder and is not a valid model identifier"),
     r"use stable-diffusion-v1-5/stable-diffusion-v1-5"),
    (OSError("lllyasviel/control_v11flip_sd15_depth is not a valid model identifier"),
     r"use lllyasviel/control_v11f1p_sd15_depth"),
    (OSError("stabilityai/sd-x3 is not a local folder and is not a valid model identifier"), r"org/name"),
    (ValueError("You are trying to load model files of the `variant=fp16`, but no such modeling files are available."),
     r"load_args"),
    (OSError("Error while deserializing header: HeaderTooLarge"), r"python -m helpers.twins build"),
    (OSError("Cannot find the requested files in the disk cache and outgoing traffic has been disabled."),
     r"TUTORIAL_MODELS=hub.*helpers.twins build"),  # on the twins (as here) it names both causes it cannot tell
    (RuntimeError("Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!"),
     r"make_generator"),
    (RuntimeError('"LayerNormKernelImpl" not implemented for \'Half\''), r"pick_dtype"),
    (ValueError("`height` and `width` have to be divisible by 8 but are 100 and 60."), r"// 8 \* 8"),
    (FileNotFoundError(2, "No such file or directory", "cat.png"), r"Path.cwd"),
    (OSError("cannot write mode RGBA as JPEG"), r"convert\('RGB'\)"),
    (raised(lambda: Image.composite(Image.new("RGB", (8, 8)), Image.new("RGB", (4, 4)), Image.new("L", (4, 4)))),
     r"image1 = image1.resize\(\(4, 4\)\)"),
    (ModuleNotFoundError("No module named 'xformers'"), r"attention='auto'.*requirements-gpu.txt"),
    (ModuleNotFoundError("No module named 'controlnet_aux'"), r"%pip install"),
    (RuntimeError("Input type (torch.cuda.FloatTensor) and weight type (torch.FloatTensor) should be the same"),
     r"make_generator"),
    (RuntimeError("Input type (c10::Half) and bias type (float) should be the same"), r"pick_dtype"),
    (AssertionError("Torch not compiled with CUDA enabled"), r"fit_to_machine"),
    (ValueError("xformers' memory efficient attention is only available for GPU"), r"attention='auto'"),
    (AttributeError("'Tensor' object has no attribute 'save'"), r"Image.fromarray"),
    (raised(lambda: types.SimpleNamespace(images=torch.zeros(1)).images.save("x.png")), r"output_type='pil'"),
    (OSError("Cannot load model x: the model is not fully cached locally."), r"helpers.twins build"),
    (RuntimeError("Cannot get CUDA generator without ATen_cuda library"), r"make_generator\(seed, device\)"),
]


@pytest.mark.parametrize("exc,fix", NOTES, ids=[type(e).__name__ + ":" + str(e)[:30] for e, _ in NOTES])
def test_known_errors_get_a_note_with_the_fix(exc, fix):
    note = format_note(_raised(exc))
    assert note is not None and "What this means:" in note and re.search(fix, note)


def test_zero_division_in_a_scheduler_gets_the_steps_note_but_not_in_own_code(img2img):
    from diffusers import PNDMScheduler

    try:
        PNDMScheduler().set_timesteps(0)
    except ZeroDivisionError as err:
        assert "num_inference_steps=1 or more" in format_note(err)
    assert note_for(_raised(ZeroDivisionError("division by zero"))) is None  # the learner's own 1/0


def test_unknown_errors_and_the_tutorials_own_errors_get_no_note(img2img):
    assert note_for(_raised(KeyError("x"))) is None
    with pytest.raises(ValueError) as info:
        img2img(prompt="x", image=rgb(), num_inference_steps=0)
    assert note_for(info.value) is None  # the message already says the fix


def test_in_a_notebook_cell_the_note_follows_the_unchanged_traceback():
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    explain.enable(shell)
    try:
        with capture_output() as cap:
            shell.run_cell("undefined_pipeline('a cat')")
        text = cap.stdout + cap.stderr
        assert "NameError" in text and "undefined_pipeline" in text  # the original traceback
        assert "How to fix it: run the notebook's cells from the top" in text
        explain.disable(shell)
        with capture_output() as cap:
            shell.run_cell("undefined_pipeline('a cat')")
        assert "NameError" in cap.stdout + cap.stderr and "How to fix it" not in cap.stdout + cap.stderr
    finally:
        explain.disable(shell)
        InteractiveShell.clear_instance()
        explain.enable()  # the module's other tests run with the checks on


def test_diffusers_warnings_stay_visible_on_the_twins(checked, caplog):
    import logging

    from diffusers import AutoPipelineForText2Image

    with caplog.at_level(logging.WARNING, logger="diffusers"):
        AutoPipelineForText2Image.from_pretrained(SD, torch_dtipe=torch.float16, **load_args(SD))
    shown = [r for r in caplog.records
             if all(f.filter(r) for h in logging.getLogger("diffusers").handlers for f in h.filters)]
    text = "\n".join(r.getMessage() for r in shown)
    assert "torch_dtipe" in text and "will be ignored" in text  # a typo in from_pretrained is not silent
    assert "Couldn't connect to the Hub" not in text  # the twins' offline chatter is

    def shown_by_diffusers(message):
        record = logging.LogRecord("diffusers.pipelines.pipeline_utils", logging.WARNING, "", 0, message, (), None)
        return all(f.filter(record) for h in logging.getLogger("diffusers").handlers for f in h.filters)

    assert logging.getLogger("diffusers").handlers, "diffusers prints through its own handler"
    assert not shown_by_diffusers("Couldn't connect to the Hub: Cannot reach https://huggingface.co/api/models/x")
    assert shown_by_diffusers("The following part of your input was truncated because CLIP can only handle ...")


# ------------------------------------------------------------------ more slips learners make


def test_the_default_strength_counts_when_steps_are_few(img2img, checked):
    from diffusers import AutoPipelineForImage2Image

    with pytest.raises(ValueError, match=r"strength=0.8 is StableDiffusionImg2ImgPipeline's default"):
        img2img(prompt="x", image=rgb(), num_inference_steps=1)
    refiner = _load(AutoPipelineForImage2Image, "stabilityai/stable-diffusion-xl-refiner-1.0")
    with pytest.raises(ValueError, match=r"num_inference_steps=3 × strength=0.3.*at least 4"):
        refiner(prompt="x", image=rgb(), num_inference_steps=3)  # without the check: 0 images, then IndexError


def test_kandinsky_prior_steps_and_sizes(kandinsky):
    with pytest.raises(ValueError, match=r"prior_num_inference_steps=5000 is more than the 1000"):
        kandinsky(prompt="x", image=rgb(), mask_image=box_mask(), prior_num_inference_steps=5000)
    with pytest.raises(ValueError, match=r"height=500 is not a multiple of 64.*Use 448 or 512"):
        kandinsky(prompt="x", image=rgb(), mask_image=box_mask(), height=500, width=512)


def test_controlnet_inpainting_keeps_the_picture_size_and_says_nothing(control, checked):
    from diffusers import StableDiffusionControlNetInpaintPipeline

    pipe = _load(StableDiffusionControlNetInpaintPipeline, "stable-diffusion-v1-5/stable-diffusion-inpainting",
                 controlnet=control.controlnet)
    out, said = run(pipe, prompt="x", image=rgb(), mask_image=box_mask(), control_image=rgb(),
                    num_inference_steps=2)
    assert out.images[0].size == (64, 64) and said == []


def test_full_width_punctuation_is_not_taken_for_chinese(img2img):
    _, said = run(img2img, prompt="a cat（cute），sitting", image=rgb(), num_inference_steps=2)
    assert not any("Chinese, Japanese or Korean characters" in w for w in said)
    assert len(said) == 1 and "full-width punctuation" in said[0] and "'a cat(cute), sitting'" in said[0]


def test_pictures_as_arrays_in_0_255(img2img, inpaint):
    _, said = run(img2img, prompt="x", image=np.full((64, 64, 3), 200.0), num_inference_steps=2)
    assert any("float numpy array with values up to 200" in s for s in said)
    with pytest.raises(ValueError, match=r"pixel values up to 255.*float\(\) / 255"):
        img2img(prompt="x", image=torch.full((1, 3, 64, 64), 255, dtype=torch.uint8), num_inference_steps=2)
    mask = np.zeros((64, 64), bool)
    mask[8:32, 8:32] = True
    out, said = run(inpaint, prompt="x", image=rgb(), mask_image=mask, height=64, width=64, num_inference_steps=2)
    assert any("boolean numpy array" in s for s in said) and out.images[0].size == (64, 64)


def test_an_argument_of_another_pipeline_names_that_pipeline(img2img, checked):
    from diffusers import AutoPipelineForText2Image

    with pytest.raises(TypeError, match=r"takes no mask_image=; AutoPipelineForInpainting does.*from_pipe"):
        img2img(prompt="x", image=rgb(), mask_image=box_mask(), num_inference_steps=2)
    text2img = _load(AutoPipelineForText2Image, SD)
    with pytest.raises(TypeError, match=r"takes no strength=; AutoPipelineForImage2Image does"):
        text2img(prompt="x", strength=0.5, num_inference_steps=2)


def test_large_pictures_are_said(img2img, x4):
    native = img2img.unet.config.sample_size * img2img.vae_scale_factor
    import inspect

    from helpers.imagecheck import check_sizes

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_sizes(img2img, {"image": rgb((3 * native, native))}, inspect.signature(type(img2img).__call__))
        check_sizes(x4, {"image": rgb((1024, 768))}, inspect.signature(type(x4).__call__))
    said = [str(w.message) for w in caught]
    assert any(f"more than twice the {native}×{native}" in s for s in said)
    assert any("will make it 4096×3072" in s for s in said)


def test_a_compiled_denoiser_gets_no_hooks(img2img):
    from helpers.longrun import Watch

    img2img.unet.compile()  # lazy: nothing compiles until a call, which this test never makes
    try:
        with Watch(img2img, {"num_inference_steps": 2}) as watch:
            assert watch.hooks == []  # a hook inside a compiled graph breaks fullgraph=True
    finally:
        img2img.unet._compiled_call_impl = None


def test_a_warning_is_said_once_per_pipeline(img2img):
    _, first = run(img2img, prompt="x", image=rgb((72, 60)), num_inference_steps=2)
    _, again = run(img2img, prompt="x", image=rgb((72, 60)), num_inference_steps=2)
    assert len(first) == 1 and again == []


def test_the_panel_shows_the_calls_warnings(img2img):
    from helpers.panel import Panel, Slider

    panel = Panel(img2img, prompt="一只猫", negative_prompt="blurry", guidance_scale=1.0, num_inference_steps=4,
                  extras=[Slider("strength", 0.5, 0.0, 1.0)], fixed={"image": rgb()})
    panel.generate(wait=True)
    assert "done in" in panel.status.value
    assert "English" in panel.status.value and "negative_prompt is ignored" in panel.status.value


def test_a_stretched_grid_tile_is_said():
    from helpers.grid import captioned_grid

    with pytest.warns(CallWarning, match=r"images\[1\] is 32×64.*stretched"):
        captioned_grid([rgb((64, 64)), rgb((32, 64))], twin=False)


def test_a_note_reads_the_cause_of_a_vague_error():
    try:
        try:
            raise OSError("Error while deserializing header: HeaderTooLarge")
        except OSError as inner:
            raise OSError("Unable to load the model") from inner
    except OSError as outer:
        assert "helpers.twins build" in format_note(outer)


def test_own_index_error_and_make_image_grid():
    assert note_for(_raised(IndexError("list index out of range"))) is None  # the learner's own list
    from diffusers.utils import make_image_grid

    try:
        make_image_grid([rgb(), rgb()], rows=3, cols=3)
    except AssertionError as err:
        assert "rows=3 × cols=3 = 9 places" in format_note(err) and "rows=1, cols=2" in format_note(err)


def test_debug_and_tb_still_see_the_error():
    import sys

    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    explain.enable(shell)
    try:
        with capture_output():
            shell.run_cell("1 / 0")
        assert isinstance(sys.last_value, ZeroDivisionError)  # what %debug and %tb read
    finally:
        explain.disable(shell)
        InteractiveShell.clear_instance()
        explain.enable()  # the module's other tests run with the checks on


def test_latents_remember_their_latent_space(img2img, checked):
    from diffusers import AutoPipelineForImage2Image

    latents = img2img(prompt="x", image=rgb(), num_inference_steps=2, output_type="latent").images
    refiner = _load(AutoPipelineForImage2Image, "stabilityai/stable-diffusion-xl-refiner-1.0")
    with pytest.raises(ValueError, match=r"(?s)Latents from StableDiffusionImg2ImgPipeline .*cannot be passed to "
                                         r"StableDiffusionXLImg2ImgPipeline.*scaling_factor.*output_type='pil'"):
        refiner(prompt="x", image=latents, num_inference_steps=4)  # without the check: a silently wrong picture
    img2img(prompt="x", image=latents, num_inference_steps=2)  # the same latent space: fine


def test_small_slips_with_pictures_and_numbers(img2img, x4, control):
    with pytest.raises(TypeError, match=r"image is an empty list"):
        img2img(prompt="x", image=[], num_inference_steps=2)
    with pytest.raises(TypeError, match=r"Leave out the quotes: guidance_scale=7.5"):
        img2img(prompt="x", image=rgb(), guidance_scale="7.5", num_inference_steps=2)
    out, said = run(x4, prompt="x", image=rgb((34, 30)), num_inference_steps=2)
    assert any("rounds it down to 32×28" in s for s in said) and out.images[0].size == (128, 112)
    _, said = run(control, prompt="x", image=rgb(), control_image=Image.new("RGB", (64, 64), "white"),
                  num_inference_steps=2)
    assert any("one flat value" in s and "load_image_file" in s for s in said)
    edges = Image.new("RGB", (64, 64), "black")
    edges.paste((255, 255, 255), (10, 10, 12, 54))  # an edge map: mostly black on purpose
    _, said = run(control, prompt="x", image=rgb(), control_image=edges, num_inference_steps=2)
    assert said == []


def test_exif_height_on_img2img_and_a_reused_generator(img2img, checked):
    import torch

    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90°": how phones store portrait photos
    import io

    buf = io.BytesIO()
    rgb((64, 48)).save(buf, format="JPEG", exif=exif)
    sideways = Image.open(io.BytesIO(buf.getvalue()))
    out, said = run(img2img, prompt="x", image=sideways, num_inference_steps=2)
    assert any("EXIF rotation" in s for s in said) and out.images[0].size == (48, 64)

    with pytest.raises(TypeError, match=r"takes its size from image=.*image.resize"):
        img2img(prompt="x", image=rgb(), height=64, num_inference_steps=2)

    g = torch.Generator().manual_seed(3)
    _, first = run(img2img, prompt="x", image=rgb(), num_inference_steps=2, generator=g)
    _, second = run(img2img, prompt="x", image=rgb(), num_inference_steps=2, generator=g)
    assert not any("generator" in s for s in first)
    assert any("generator was used by an earlier call" in s and "seed 3" in s for s in second)
    g.manual_seed(3)  # seeded again: it starts from the seed's noise, nothing to say
    _, third = run(img2img, prompt="x", image=rgb(), num_inference_steps=2, generator=g)
    assert not any("generator" in s for s in third)


def test_half_precision_on_the_cpu_is_said(checked):
    from diffusers import AutoPipelineForImage2Image

    pipe = _load(AutoPipelineForImage2Image, SD)
    pipe.to(torch.bfloat16)  # what dtype=torch.float16 on a laptop does; bf16 runs on any CPU here
    _, said = run(pipe, prompt="x", image=rgb(), num_inference_steps=2)
    assert any("bfloat16 on the CPU" in s and "pick_dtype" in s for s in said)


def test_a_callback_that_returns_nothing_gets_its_note(img2img):
    with pytest.raises(AttributeError) as info:
        img2img(prompt="x", image=rgb(), num_inference_steps=4, callback_on_step_end=lambda *a: None)
    assert "return callback_kwargs" in format_note(info.value)
    # the same message from the learner's own code, outside a pipeline, gets no callback note
    assert note_for(_raised(AttributeError("'NoneType' object has no attribute 'pop'"))) is None


def test_latents_keep_their_latent_space_through_slicing_and_saving(img2img, tmp_path):
    from diffusers import AutoPipelineForImage2Image

    refiner = _load(AutoPipelineForImage2Image, "stabilityai/stable-diffusion-xl-refiner-1.0")
    latents = img2img(prompt="x", image=rgb(), num_inference_steps=2, output_type="latent").images
    torch.save(latents, tmp_path / "latents.pt")
    loaded = torch.load(tmp_path / "latents.pt")  # weights_only: no pickled helper object may ride on the tensor
    # latents[0][None] is what the 3-D message recommends; each form still carries where it came from
    for passed in (latents[0][None], latents[:1], loaded):
        with pytest.raises(ValueError, match=r"cannot be passed to StableDiffusionXLImg2ImgPipeline"):
            refiner(prompt="x", image=passed, num_inference_steps=4)
    # a copy is a new tensor without the note: that is said, since the latents cannot be checked any more
    with pytest.warns(CallWarning, match=r"no note of the pipeline that made it.*check_latents_compatible"):
        refiner(prompt="x", image=latents.clone(), num_inference_steps=4)


def test_pictures_of_different_sizes_in_one_list_and_animated_pictures_are_said(img2img):
    frames = [rgb(), Image.new("RGB", (64, 64), (200, 30, 30))]  # two different frames: GIF keeps both
    with pytest.warns(CallWarning, match=r"list of pictures of 2 different sizes \(48x64, 64x64\)"):
        img2img(prompt=["x", "y"], image=[rgb(), rgb((48, 64))], num_inference_steps=2)
    gif = io.BytesIO()
    frames[0].save(gif, format="GIF", save_all=True, append_images=frames[1:])
    with pytest.warns(CallWarning, match=r"animated picture of 2 frames; only the frame it shows now \(frame 1\)"):
        img2img(prompt="x", image=Image.open(gif), num_inference_steps=2)


def test_an_upright_turned_photo_and_its_mask_are_compared_as_used(inpaint):
    photo, mask = rgb((64, 48)), box_mask((48, 64))  # the mask drawn on the photo as a viewer shows it
    exif = photo.getexif()
    exif[0x0112] = 6  # stored sideways: turned 90° when shown
    buffer = io.BytesIO()
    photo.save(buffer, format="JPEG", exif=exif)
    turned = Image.open(buffer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = inpaint(prompt="x", image=turned, mask_image=mask, height=64, width=48, num_inference_steps=2)
    assert out.images[0].size == (48, 64)


def test_the_next_call_s_estimate_leaves_out_a_slow_first_step():
    from helpers import longrun

    phase = longrun._Phase(None, "unet", 50)
    phase.calls, phase.first_done = 51, 70.0  # a 70 s first step (a first call's warm-up), then 51 steps in 5 s
    assert longrun.steady_rate([phase], now=75.0, started=0.0, expected=50) == pytest.approx(0.1)
    assert longrun.steady_rate([], now=75.0, started=0.0, expected=50) == 1.5  # no steps seen: the whole call


def test_a_bar_shown_before_the_call_ends_at_the_steps_the_pipeline_runs(monkeypatch):
    from helpers import longrun

    class Bar:
        total, refreshed = 50, 0

        def refresh(self):
            self.refreshed += 1

        def update(self, n):
            pass

    watch = type("W", (), {"pipeline": type("P", (), {"_num_timesteps": 51})()})()
    phase = longrun._Phase(watch, "unet", 50)
    phase.bar = Bar()  # "timed from its last call": made with the 50 planned steps
    phase.pre(None, ())
    phase.post(None, (), None)
    assert phase.bar.total == 51 and phase.bar.refreshed == 1  # PNDM's extra step counted, as the pipeline does
