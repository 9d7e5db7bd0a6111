"""From the eleventh and twelfth probes: notes that named the wrong cause or fix, and calls that went silently wrong."""

import os
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
import torch
from conftest import checked_pipes, raised, said
from PIL import Image


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


@contextmanager
def checks_on():
    """The call checks on for a block (also over classes imported since), then as they were."""
    from helpers import explain

    was_on = explain._STATE["enabled"]
    explain.enable()
    try:
        yield
    finally:
        if not was_on:
            explain.disable()


def test_numpy_pictures_in_a_grid_are_told_to_leave_output_type_out():
    from helpers.grid import captioned_grid

    err = raised(lambda: captioned_grid([Image.new("RGB", (8, 8)), np.zeros((8, 8, 3))], captions=["a", "b"]))
    assert "images[1] is a numpy array of floats" in str(err) and "numpy_to_pil" in str(err)
    assert "pass output" not in str(err)
    err = raised(lambda: captioned_grid([np.zeros((8, 8, 3), np.uint8)], captions=["a"]))
    assert "Image.fromarray(array)" in str(err) and "numpy_to_pil" not in str(err)  # it would multiply by 255


def test_panel_names_its_own_control_for_another_tutorials_name(pipes):
    from helpers.panel import Panel

    err = raised(lambda: Panel(pipes["t2i"], prompt="a cat", steps=8))
    assert "Panel(..., num_inference_steps=8)" in str(err) and "Slider(" not in str(err)
    err = raised(lambda: Panel(pipes["t2i"], prompt="a cat", generator=torch.Generator()))
    assert "Panel(..., seed=42)" in str(err) and "Generator object" not in str(err)
    err = raised(lambda: Panel(pipes["t2i"], prompt="a cat", live="no"))
    assert isinstance(err, TypeError) and "live='no'" in str(err) and "True" in str(err)


def test_a_compel_object_as_encode_is_told_to_wrap_it(pipes):
    from compel import Compel

    from helpers.panel import Panel

    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    err = raised(lambda: Panel(pipes["t2i"], prompt="a cat", encode=compel))
    assert "a Compel object returns only embeddings" in str(err) and "def encode(prompt, negative_prompt" in str(err)
    assert "Add the missing parameters" not in str(err)


def test_a_preview_method_as_the_callback_is_not_called_the_older_form(pipes):
    from helpers.preview import StepPreview

    preview = StepPreview(pipes["t2i"])
    err = raised(lambda: pipes["t2i"]("a cat", num_inference_steps=2, height=64, width=64,
                                      callback_on_step_end=preview.attach))
    assert "callback_on_step_end=preview." in str(err) and "older" not in str(err)
    err = raised(lambda: pipes["t2i"]("a cat", num_inference_steps=2, height=64, width=64,
                                      callback_on_step_end=lambda step, t, latents: None))
    assert "older callback= form" in str(err)  # three parameters: that one is the older form
    preview.close()


def test_lora_scale_points_at_cross_attention_kwargs(pipes):
    err = raised(lambda: pipes["img2img"]("a cat", image=Image.new("RGB", (64, 64)), lora_scale=0.5,
                                          num_inference_steps=2))
    assert "cross_attention_kwargs={'scale': 0.5}" in str(err) and "spelling" not in str(err)


def test_padding_mask_crop_is_not_said_to_resize_the_result():
    from diffusers import AutoPipelineForInpainting


    with checks_on():
        pipe = AutoPipelineForInpainting.from_pretrained("stable-diffusion-v1-5/stable-diffusion-inpainting")
        pipe.set_progress_bar_config(disable=True)
        picture = Image.new("RGB", (256, 256), (90, 120, 60))
        mask = Image.new("L", (256, 256), 0)
        mask.paste(255, (96, 96, 160, 160))
        text = said(lambda: pipe("a cat", image=picture, mask_image=mask, padding_mask_crop=16,
                                 num_inference_steps=2), only_call_warnings=True)
        assert "the result will be" not in text


def test_a_lora_path_that_is_not_there_or_starts_with_a_tilde_is_named(tmp_path, monkeypatch):
    from helpers.notes import note_for

    def load_lora_weights(pretrained_model_name_or_path_or_dict):  # where diffusers gives up, as it words it
        raise ValueError("When using the offline mode, you must specify a `weight_name`.")

    monkeypatch.chdir(tmp_path)
    err = raised(lambda: load_lora_weights("./loras/pixel_style.safetensors"))
    meaning, fix = note_for(err)
    assert "./loras/pixel_style.safetensors does not exist" in meaning and str(tmp_path) in meaning
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "pixel.safetensors").write_bytes(b"")
    meaning, fix = note_for(raised(lambda: load_lora_weights("~/pixel.safetensors")))
    assert "starts with ~" in meaning and "os.path.expanduser('~/pixel.safetensors')" in fix
    assert note_for(raised(lambda: load_lora_weights("some-org/some-lora"))) is None  # a repo id: not confirmed


def test_compel_weights_written_as_other_tools_write_them_are_said():
    from helpers.compelcheck import check_compel_text

    assert "Write )1.5" in said(lambda: check_compel_text(None, "Astronaut in a (jungle)1,5"))
    assert "compel reads 'jungle:1.5' as plain words" in said(lambda: check_compel_text(None, "a jungle:1.5, 8k"))
    assert "opens 2 bracket(s) and closes 1" in said(lambda: check_compel_text(None, "a ((jungle)1.3, 8k"))
    assert said(lambda: check_compel_text(None, "a (jungle)1.5 at 10:30, 8k")) == ""  # right as written
    assert said(lambda: check_compel_text(None, "1) a cat 2) a dog, aspect ratio: 2.35")) == ""  # no weights
    assert said(lambda: check_compel_text(None, r"a \(cat\) (dog)1.5")) == ""  # brackets meant as text
    text = said(lambda: check_compel_text(None, "portrait <lora:pixel_style:0.8>"))
    assert "A1111's LoRA tag" in text and "cross_attention_kwargs={'scale': 0.8}" in text and "(pixel" not in text


def test_a_photo_where_a_mask_goes_is_refused():
    from helpers.images import make_mask, mask_coverage
    from helpers.painter import MaskPainter

    rng = np.random.default_rng(0)
    photo = Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8))
    assert "colour picture" in str(raised(lambda: mask_coverage(photo)))
    painter = MaskPainter(photo)
    assert "colour picture" in str(raised(lambda: painter.set_mask(photo)))
    assert painter.painted == 0.0  # left as it was
    holed = photo.convert("RGBA")
    holed.putalpha(make_mask((64, 64), box=(0, 0, 32, 64)))  # a mask kept in transparency
    assert "ImageOps.invert(picture.getchannel('A'))" in str(raised(lambda: mask_coverage(holed)))
    box = make_mask((64, 64), box=(0, 0, 32, 64))
    assert mask_coverage(box.convert("RGB")) == pytest.approx(0.5)  # a black-and-white mask saved as RGB is fine


def test_swapped_aesthetic_scores_are_said_on_the_refiner_only():
    from diffusers import StableDiffusionXLImg2ImgPipeline


    with checks_on():
        refiner = StableDiffusionXLImg2ImgPipeline.from_pretrained("stabilityai/stable-diffusion-xl-refiner-1.0")
        refiner.set_progress_bar_config(disable=True)
        call = dict(image=Image.new("RGB", (64, 64), (90, 120, 60)), num_inference_steps=2, strength=0.5)
        text = said(lambda: refiner("a cat", aesthetic_score=2.5, negative_aesthetic_score=6.0, **call))
        assert "aesthetic_score=2.5 is below negative_aesthetic_score=6.0" in text
        assert "aesthetic_score" not in said(lambda: refiner("a cat", aesthetic_score=7.0, **call))


def test_pick_device_given_a_device_says_to_write_it_yourself():
    from helpers.device import pick_device

    assert "write device = 'cuda'" in str(raised(lambda: pick_device("cuda")))
    assert pick_device() in ("cpu", "cuda", "mps") or os.environ.get("TUTORIAL_DEVICE")


def test_pictures_from_a_model_run_outside_no_grad_get_the_no_grad_note():
    from helpers.notes import note_for

    layer = torch.nn.Linear(2, 2)
    meaning, fix = note_for(raised(lambda: layer(torch.ones(1, 2)).numpy()))
    assert "torch.no_grad()" in meaning and "detach()" in fix


def test_the_painters_png_bytes_as_the_mask_name_painter_mask(pipes):
    from helpers.imagecheck import check_images
    from helpers.painter import MaskPainter

    painter = MaskPainter(Image.new("RGB", (64, 64)))
    painter.clear()
    err = raised(lambda: check_images(pipes["img2img"], {"image": Image.new("RGB", (64, 64)),
                                                         "mask_image": painter.mask_png}))
    assert "bytes of a file's contents" in str(err) and "painter.mask, a picture already" in str(err)


def test_a_misspelt_scheduler_setting_and_a_one_channel_control_tensor_are_said():
    from diffusers import DDIMScheduler, DPMSolverMultistepScheduler, StableDiffusionControlNetImg2ImgPipeline

    from helpers.imagecheck import check_images

    with checks_on():  # after diffusers' import, as the cell hook does in a notebook
        text = said(lambda: DPMSolverMultistepScheduler.from_config(DDIMScheduler().config, use_karras=True))
        assert "has no use_karras=, and no scheduler has" in text and "use_karras_sigmas=True" in text
        assert said(lambda: DPMSolverMultistepScheduler.from_config(DDIMScheduler().config, cache_dir=None)) == ""
    pipe = StableDiffusionControlNetImg2ImgPipeline.__new__(StableDiffusionControlNetImg2ImgPipeline)
    err = raised(lambda: check_images(pipe, {"image": Image.new("RGB", (64, 64)),
                                             "control_image": torch.zeros(1, 1, 64, 64)}))
    assert "one-channel tensor (1, 1, 64, 64)" in str(err) and "t.repeat(1, 3, 1, 1)" in str(err)


def test_a_lora_scale_without_a_lora_and_a_lora_of_another_family_are_said(pipes):
    from helpers.callranges import check_lora_scale
    from helpers.notes import note_for

    # with peft installed the call goes on (without it, the call is refused first: helpers.libgaps)
    text = said(lambda: check_lora_scale(pipes["t2i"], {"cross_attention_kwargs": {"scale": 0.7}}))
    assert "no LoRA is loaded into this pipeline, so it changes nothing" in text
    mismatch = RuntimeError("Error(s) in loading state_dict for UNet2DConditionModel:\n\tsize mismatch for "
                            "down_blocks.1.attentions.0.proj_in.lora_A.xl.weight: copying a param with shape "
                            "torch.Size([4, 640]) from checkpoint, the shape in current model is torch.Size([4, 320]).")
    meaning, fix = note_for(raised(lambda: (_ for _ in ()).throw(mismatch)))
    assert "another model family" in meaning and "made for this pipeline's base model" in fix


def test_names_from_other_tools_get_diffusers_name(pipes):
    img = Image.new("RGB", (64, 64))
    for given, meant in (("steps", "num_inference_steps"), ("denoise", "strength"),
                         ("batch_size", "num_images_per_prompt")):
        err = raised(lambda given=given: pipes["img2img"]("a cat", image=img, num_inference_steps=2, **{given: 1}))
        assert f"diffusers names this setting {meant}=" in str(err), given
    err = raised(lambda: pipes["img2img"]("a cat", image=img, num_inference_steps=2, scheduler=None))
    assert "pipeline.scheduler = DDIMScheduler.from_config" in str(err) and "spelling" not in str(err)


def test_chapter_fours_control_slider_name_points_at_the_conditioning_scale():
    from diffusers import StableDiffusionControlNetImg2ImgPipeline

    from helpers.callnames import other_name

    params = list(__import__("inspect").signature(StableDiffusionControlNetImg2ImgPipeline.__call__).parameters)
    assert other_name("control", params) == "controlnet_conditioning_scale"
    assert other_name("mask", ["mask_image"]) == "mask_image" and other_name("mask", ["image"]) is None
    assert other_name("control", params, Image.new("RGB", (8, 8))) is None  # a picture is not the scale
    from diffusers import StableDiffusionControlNetPipeline

    text2image = list(__import__("inspect").signature(StableDiffusionControlNetPipeline.__call__).parameters)
    assert other_name("init_image", text2image) is None  # its image= is the control picture


def test_own_file_in_load_chapter_image_points_at_load_image_file():
    from helpers.images import load_chapter_image

    err = raised(lambda: load_chapter_image("/tmp/my_photos/mask.jpg"))
    assert "load_image_file('/tmp/my_photos/mask.jpg')" in str(err)
    assert "load_image_file" not in str(raised(lambda: load_chapter_image("astronut")))  # a typo: the list
    assert "pass name='inpaint_mask'" in str(raised(lambda: load_chapter_image("inpaint_mask.png")))


def test_token_ids_as_embeddings_and_text_where_a_flag_goes_are_refused(pipes):
    ids = pipes["t2i"].tokenizer("a cat", return_tensors="pt").input_ids
    err = raised(lambda: pipes["t2i"](prompt_embeds=ids, num_inference_steps=2, height=64, width=64))
    assert "token ids from the tokenizer, not embeddings" in str(err) and "[None]" not in str(err)
    from diffusers import StableDiffusionControlNetImg2ImgPipeline

    from helpers.callbatch import check_kinds

    pipe = StableDiffusionControlNetImg2ImgPipeline.__new__(StableDiffusionControlNetImg2ImgPipeline)
    err = raised(lambda: check_kinds(pipe, {"guess_mode": "no"}))
    assert "guess_mode='no' is text" in str(err) and "guess_mode=False" in str(err)


def test_the_priors_step_count_is_named_as_itself():
    from diffusers import KandinskyV22Img2ImgCombinedPipeline

    from helpers.callcheck import check_numbers

    pipe = KandinskyV22Img2ImgCombinedPipeline.__new__(KandinskyV22Img2ImgCombinedPipeline)
    err = raised(lambda: check_numbers(pipe, {"prior_num_inference_steps": 0, "num_inference_steps": 6}))
    assert str(err).startswith("prior_num_inference_steps=0 must be at least 1")


def test_a_preview_option_it_lacks_and_an_output_option_of_the_main_job_say_what_to_use(pipes, capsys):
    from helpers.preview import StepPreview
    from tools import run

    err = raised(lambda: StepPreview(pipes["t2i"], every=2))
    assert "StepPreview has no every=" in str(err) and "cap=10" in str(err) and "timeline(steps=5)" in str(err)
    with pytest.raises(SystemExit):
        run.main(["--twins", "1", "--out", "/tmp/elsewhere"])
    assert "TUTORIAL_BUILD=/path/to/folder python -m tools.run" in capsys.readouterr().err


def test_from_a_thirteenth_probe_fractions_saved_settings_scheduler_controls_and_latent_lists(pipes, capsys):
    from helpers.imagecheck import check_images
    from helpers.images import make_mask
    from helpers.panel import Panel
    from helpers.panel_controls import Choice
    from tools import sweep

    err = raised(lambda: make_mask((400, 200), box=(0.25, 0.15, 0.625, 0.525)))
    assert "looks like fractions" in str(err) and "box=(100, 30, 250, 105)" in str(err)
    saved = {"prompt": "a cat", "num_inference_steps": 2, "seed": 0, "seconds": 1.2, "pipeline": "X"}
    err = raised(lambda: pipes["t2i"](height=64, width=64, **saved))
    assert "what Save PNG records" in str(err) and "spelling" not in str(err)
    err = raised(lambda: Panel(pipes["t2i"], prompt="a cat", extras=[Choice("scheduler", {"a": 1, "b": 2})]))
    assert "a panel control cannot switch it" in str(err) and "pipeline_arg=False" not in str(err)
    latents = [torch.zeros(4, 8, 8), torch.zeros(4, 8, 8)]
    err = raised(lambda: check_images(pipes["img2img"], {"image": latents}))
    assert "torch.stack(that_list)" in str(err) and "[None]" not in str(err)
    with pytest.raises(SystemExit):
        sweep.main(["--steps", "0"])
    assert "0 must be 1 or more" in capsys.readouterr().err


def test_a_switch_given_as_text_and_a_value_given_to_generate_say_what_to_do(pipes):
    from helpers.panel import Panel
    from helpers.speed import fit_to_machine

    err = raised(lambda: fit_to_machine(pipes["t2i"], "cpu", fast="no"))
    assert isinstance(err, TypeError) and "fast='no' is a switch" in str(err)
    panel = Panel(pipes["t2i"], prompt="a cat", num_inference_steps=2)
    err = raised(lambda: panel.generate(seed=5))
    assert "panel.controls['seed'].value = 5" in str(err)
    # a text-to-image pipeline takes no strength: fixed= would fail at the first run (a twenty-third probe)
    said = str(raised(lambda: panel.generate(strength=0.5)))
    assert "nor StableDiffusionPipeline's call take strength, so fixed= cannot pass it" in said
    assert "fixed={" not in said and "AutoPipelineForImage2Image.from_pipe(pipeline)" in said


def test_a_phone_photo_turned_by_exif_is_painted_upright_and_a_sideways_mask_is_named(pipes):
    import io

    from diffusers import AutoPipelineForInpainting

    from helpers.images import make_mask
    from helpers.painter import MaskPainter

    stored = Image.new("RGB", (96, 64), (200, 100, 50))
    exif = stored.getexif()
    exif[0x0112] = 6  # "turn 90°": the pixels are stored sideways, as a phone saves a portrait photo
    data = io.BytesIO()
    stored.save(data, "JPEG", exif=exif.tobytes())
    photo = Image.open(io.BytesIO(data.getvalue()))
    assert MaskPainter(photo).mask.size == (64, 96)  # painted as a viewer shows it
    with checks_on():
        pipe = AutoPipelineForInpainting.from_pretrained("stable-diffusion-v1-5/stable-diffusion-inpainting")
        with warnings.catch_warnings(record=True) as caught:  # the turn is said, then the mask refused
            warnings.simplefilter("always")
            err = raised(lambda: pipe("a cat", image=photo, mask_image=make_mask(photo.size, box=(0, 0, 32, 32)),
                                      num_inference_steps=2))
    assert any("EXIF rotation (orientation 6)" in str(w.message) for w in caught)
    assert "EXIF rotation and was turned upright" in str(err) and "ImageOps.exif_transpose(photo)" in str(err)
    assert "numpy shape" not in str(err)
