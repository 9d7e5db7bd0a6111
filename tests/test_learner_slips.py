"""Slips from fresh probes of learner mistakes: each gets the right fix, or works (docs/errors.md 115–133, 142–145)."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import explain
from helpers.loading import load_args
from helpers.notes import format_note

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"
DEPTH = "lllyasviel/control_v11f1p_sd15_depth"


@pytest.fixture(scope="module")
def pipes():
    from diffusers import (
        ControlNetModel,
        StableDiffusionControlNetImg2ImgPipeline,
        StableDiffusionImg2ImgPipeline,
        StableDiffusionInpaintPipeline,
        StableDiffusionPipeline,
    )

    explain.enable()
    t2i = StableDiffusionPipeline.from_pretrained(SD, **load_args(SD))
    net = ControlNetModel.from_pretrained(DEPTH, **load_args(DEPTH))
    found = {"t2i": t2i, "img2img": StableDiffusionImg2ImgPipeline(**t2i.components),
             "inpaint": StableDiffusionInpaintPipeline(**t2i.components),
             "control": StableDiffusionControlNetImg2ImgPipeline(**t2i.components, controlnet=net)}
    for pipe in found.values():
        pipe.set_progress_bar_config(disable=True)
    yield found
    explain.disable()


def photo(side=64):
    return Image.fromarray(np.random.default_rng(0).integers(0, 255, (side, side, 3), dtype=np.uint8))


def _raised(fn):
    try:
        fn()
    except Exception as err:  # noqa: BLE001
        return err
    raise AssertionError("it did not fail")


KW = {"num_inference_steps": 2, "strength": 0.5}


def _return_dict_false():
    output = ([Image.new("RGB", (4, 4))], [False])  # what pipeline(..., return_dict=False) returns
    return output.images


@pytest.mark.parametrize(("case", "match"), [
    ("no control image", r"needs control_image=: the control picture"),
    ("depth dict", r"control_image is a dict \(keys 'depth', 'predicted_depth'\).*result\['depth'\].convert"),
    ("raw depth tensor", r"tensor of shape \(1, 64, 64\).*predicted_depth.*result\['depth'\]"),
    ("two nets, one picture", r"has 2 ControlNets, and control_image= gives one picture.*\[picture, picture\]"),
])
def test_the_control_picture_is_checked_before_diffusers_blames_image(pipes, case, match):
    from diffusers import StableDiffusionControlNetImg2ImgPipeline
    from diffusers.models.controlnets.multicontrolnet import MultiControlNetModel

    pipe, control = pipes["control"], photo()
    if case == "two nets, one picture":
        pipe = StableDiffusionControlNetImg2ImgPipeline(
            **{k: v for k, v in pipe.components.items() if k != "controlnet"},
            controlnet=MultiControlNetModel([pipe.controlnet, pipe.controlnet]))
    control = {"no control image": None, "depth dict": {"depth": control, "predicted_depth": torch.rand(1, 64, 64)},
               "raw depth tensor": torch.rand(1, 64, 64)}.get(case, control)
    with pytest.raises((TypeError, ValueError), match=match):
        pipe("a cat", image=photo(), control_image=control, **KW)


@pytest.mark.parametrize(("case", "match"), [
    ("numpy generator", r"torch's Generator, got numpy\.random\._generator\.Generator.*make_generator"),
    ("old callback", r"f\(pipeline, step, timestep, callback_kwargs\).*yours takes \(step, timestep, latents\)"),
    ("latents for inpainting", r"tensor of latents \(1, 4, 8, 8\), but StableDiffusionInpaintPipeline masks"),
    ("closed file", r"file closed before the pixels were read.*picture.load\(\)"),
])
def test_call_slips_are_refused_with_the_fix(pipes, tmp_path, case, match):
    kwargs = {"image": photo(), **KW}
    pipe = pipes["img2img"]
    if case == "numpy generator":
        kwargs["generator"] = np.random.default_rng(0)
    elif case == "old callback":
        kwargs["callback_on_step_end"] = lambda step, timestep, latents: None
    elif case == "latents for inpainting":
        pipe, kwargs["image"], kwargs["mask_image"] = pipes["inpaint"], torch.randn(1, 4, 8, 8), photo()
    else:
        photo().save(tmp_path / "mine.png")
        with Image.open(tmp_path / "mine.png") as opened:
            kwargs["image"] = opened  # used after the with block closed its file
    with pytest.raises((TypeError, ValueError), match=match):
        pipe("a cat", **kwargs)


def test_latents_batch_and_output_latents_as_noise(pipes):
    t2i = pipes["t2i"]
    with pytest.raises(ValueError, match=r"latents hold 1 starting noise picture\(s\), but this call makes 2.*"
                                         r"latents.repeat\(2, 1, 1, 1\)"):
        t2i("a cat", latents=torch.randn(1, 4, 8, 8), num_images_per_prompt=2, num_inference_steps=2)
    made = pipes["img2img"]("a cat", image=photo(), output_type="latent", **KW).images
    t2i.__dict__.pop("_tutorial_said", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        t2i("a cat", latents=made, num_inference_steps=2, generator=None)  # None: diffusers' own default, valid
    words = " ".join(str(w.message) for w in caught)
    assert "latents= is the starting noise of a new run" in words and "image= to an img2img pipeline" in words
    assert "generator" not in words


def test_a_bool_mask_tensor_is_made_a_picture(pipes):
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[16:48, 16:48] = True
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pipes["inpaint"]("a cat", image=photo(), mask_image=mask, height=64, width=64, **KW)
    assert len(out.images) == 1 and any("boolean tensor" in str(w.message) for w in caught)


def test_sdxl_embeddings_need_their_pooled_pair_and_compel_its_parts():
    from compel import Compel
    from diffusers import AutoPipelineForImage2Image

    explain.enable()
    refiner = AutoPipelineForImage2Image.from_pretrained(REFINER, **load_args(REFINER))
    width = refiner.text_encoder_2.config.hidden_size
    with pytest.raises(ValueError, match=r"prompt_embeds= only with pooled_prompt_embeds=.*requires_pooled=True"):
        refiner(prompt_embeds=torch.randn(1, 77, width), image=photo(), num_inference_steps=4)
    explain.wrap_pipelines()  # compel imported: what the next cell's hook does
    with pytest.raises(TypeError, match=r"Compel got tokenizer=None and text_encoder=None.*tokenizer_2"):
        Compel(tokenizer=refiner.tokenizer, text_encoder=refiner.text_encoder)
    # valid calls stay valid: the refiner's latent hand-over into SDXL's inpainting class (a 4-channel UNet) ...
    from diffusers import StableDiffusionXLInpaintPipeline

    inpaint = StableDiffusionXLInpaintPipeline(**refiner.components, requires_aesthetics_score=True)
    inpaint.set_progress_bar_config(disable=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # what it says about the made-up mask and latents is not the point here
        inpaint("a cat", image=torch.randn(1, 4, 8, 8), mask_image=photo(), num_inference_steps=4,
                denoising_start=0.5, height=64, width=64, output_type="latent")
    # ... and long embeddings with no negative where SDXL zeroes it itself (force_zeros_for_empty_prompt, as the
    # SDXL inpainting repo sets it); the refiner's repo does not, so there the pipeline would encode one: refused
    pooled = torch.randn(1, refiner.text_encoder_2.config.projection_dim)
    long = {"prompt_embeds": torch.randn(1, 154, width), "pooled_prompt_embeds": pooled, "image": photo(),
            "num_inference_steps": 4, "output_type": "latent"}
    with pytest.raises(ValueError, match=r"154 tokens .*the empty negative prompt"):
        refiner(**long)
    refiner.register_to_config(force_zeros_for_empty_prompt=True)
    try:
        refiner(**long)
    finally:
        refiner.register_to_config(force_zeros_for_empty_prompt=False)


def test_a_combined_kandinsky_scheduler_set_on_the_wrong_object_is_said():
    from helpers.schedulercheck import check_combined_scheduler

    decoder = type("Decoder", (), {"scheduler": object()})()
    combined = type("KandinskyV22CombinedLike", (), {})()
    combined.decoder_pipe, combined.scheduler = decoder, decoder.scheduler
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_combined_scheduler(combined)  # the same object: nothing to say
        combined.scheduler = object()
        check_combined_scheduler(combined)
        decoder.scheduler = object()  # the warning's own fix: the decoder's scheduler replaced
        check_combined_scheduler(combined)
    assert len(caught) == 1 and "pipeline.decoder_pipe.scheduler =" in str(caught[0].message)


@pytest.mark.parametrize(("make", "says"), [
    (lambda: np.zeros((4, 4, 3), np.float32).save("x.png"), r"Image.fromarray"),
    (lambda: [Image.new("RGB", (4, 4))].save("x.png"), "output.images[0].save"),
    (lambda: Image.fromarray(np.zeros((4, 4, 3), np.float32)), "(array * 255).round().astype('uint8')"),
    (lambda: torch.zeros(1).to("gpu"), "'gpu' is not one of them"),
    (lambda: Image.new("RGB", (4, 4)).save("/nonexistent-folder/x.png"), "mkdir(parents=True, exist_ok=True)"),
    (lambda: Image.open("/nonexistent-folder/x.png"), "check the path: print(Path.cwd())"),  # reading: no mkdir
])
def test_library_errors_of_the_probe_get_their_own_note(make, says):
    note = format_note(_raised(make))
    assert note and says in note, note


def test_loading_slips_get_notes_that_name_the_part(pipes):
    from diffusers import AutoPipelineForImage2Image, StableDiffusionControlNetImg2ImgPipeline

    err = _raised(lambda: StableDiffusionControlNetImg2ImgPipeline.from_pretrained(SD, **load_args(SD)))
    assert "ControlNetModel.from_pretrained(controlnet_id" in format_note(err)
    err = _raised(lambda: AutoPipelineForImage2Image.from_pretrained(SD, controlnet=DEPTH, **load_args(SD)))
    assert "controlnet= was given a model id" in format_note(err)
    err = _raised(lambda: AutoPipelineForImage2Image.from_pretrained(SD, **load_args(SD), variant="fp16"))
    assert "load_args(repo_id) already passes variant=" in format_note(err)
    err = _raised(lambda: AutoPipelineForImage2Image.from_pretrained(SD, revision="fp16"))  # older tutorials
    assert "drop revision= and pass **load_args(repo_id)" in format_note(err)
    err = _raised(lambda: pipes["img2img"]("a cat", image=photo(), timesteps=[999, 500], strength=0.5))
    assert "EulerDiscreteScheduler.from_config(pipeline.scheduler.config)" in format_note(err)


def test_panel_slips(pipes, tmp_path):
    from helpers.images import load_image_file
    from helpers.panel import Panel, Slider

    with pytest.raises(ValueError, match=r"does not take `strenght`\. Did you mean `strength`\?"):
        Panel(pipes["img2img"], prompt="x", fixed={"image": photo()}, extras=[Slider("strenght", 0.3, 0.0, 1.0)])
    panel = Panel(pipes["img2img"], prompt="x", num_inference_steps=2, fixed={"image": photo()},
                  encode=lambda prompt, negative, extras: torch.zeros(1, 77, 32))
    with pytest.raises(IndexError, match=r"holds no picture yet: press Generate"):
        panel.results[0]
    with pytest.raises(TypeError, match="encode= must return a dict"):
        panel.generate(wait=True)
    assert "encode= must return a dict of keyword arguments" in panel.status.value
    (tmp_path / "holiday").mkdir()
    photo().save(tmp_path / "holiday" / "beach.png")
    with pytest.raises(IsADirectoryError, match=r"is a folder, not a picture: pass one file in it, e.g. .*beach.png"):
        load_image_file(str(tmp_path / "holiday"))


def test_a_choice_set_with_its_picture_names_the_label(pipes):
    from traitlets import TraitError

    from helpers.panel import Choice, Panel

    box, oval = photo(), photo(32)
    panel = Panel(pipes["inpaint"], prompt="x", fixed={"image": photo()}, extras=[Choice("mask_image", {"box": box,
                                                                                                       "oval": oval})])
    with pytest.raises(TraitError, match=r"takes one of its labels \('box', 'oval'\).*\.value = 'oval'"):
        panel.controls["mask_image"].value = oval
    panel.controls["mask_image"].value = "oval"
    assert panel.controls["mask_image"].value == "oval"


# ------------------------------------------------------------------ a second fresh probe


def test_misleading_hints_of_the_second_probe_now_name_the_cause(pipes, tmp_path):
    import inspect

    from diffusers import DDIMScheduler, StableDiffusionControlNetPipeline, StableDiffusionUpscalePipeline

    from helpers import callbatch
    from helpers.callnames import check_names
    from helpers.causes_loading import variant_files
    from helpers.device import pick_dtype

    err = _raised(lambda: DDIMScheduler.from_config(pipes["t2i"].scheduler))  # the object, not its .config
    assert "from_config(pipeline.scheduler.config)" in format_note(err)
    t2i_control = StableDiffusionControlNetPipeline(**pipes["t2i"].components, controlnet=pipes["control"].controlnet)
    with pytest.raises(TypeError, match=r"\(text-to-image\) takes its control picture as image="):
        t2i_control("a cat", control_image=photo(), num_inference_steps=2)
    x4 = StableDiffusionUpscalePipeline.__new__(StableDiffusionUpscalePipeline)
    with pytest.raises(TypeError, match=r"only the older per-step hook: callback=f, callback_steps=1"):
        check_names(x4, inspect.signature(StableDiffusionUpscalePipeline.__call__), {"callback_on_step_end": print})
    with pytest.raises(TypeError, match=r"decoder alone: its first argument is image_embeds from the prior"):
        callbatch.check_text_where_embeds_go(object(), {"image_embeds": "a cat"})
    assert "with the same repo id as from_pretrained's" in variant_files(ValueError("variant"), None)[1]
    with pytest.raises(TypeError, match=r"such as torch\.float16, got str 'fp16'"):
        pick_dtype("cpu", requested="fp16")
    named = tmp_path / "astronaut in a jungle, cold colors" / "8k.png"  # f"{prompt}.png" with a "/" in the prompt
    note = format_note(_raised(lambda: photo().save(named)))
    assert "name = text.replace('/', '-')" in note and "mkdir" not in note


def test_raw_errors_and_silent_calls_of_the_second_probe(pipes):
    from helpers.panel import Panel

    t2i, img2img, inpaint = pipes["t2i"], pipes["img2img"], pipes["inpaint"]
    with pytest.raises(TypeError, match=r"prompt_embeds is a tuple of 2, and it takes one tensor.*"
                                        r"pad_conditioning_tensors_to_same_length.*unpacked first"):
        t2i(prompt_embeds=t2i.encode_prompt("a cat", "cpu", 1, True), num_inference_steps=2)
    with pytest.raises(TypeError, match=r"needs mask_image=: the mask \(white = repaint\)"):
        inpaint("a cat", image=photo(), **KW)
    with pytest.raises(ValueError, match=r"ip_adapter_image= needs an IP-Adapter loaded"):
        img2img("a cat", image=photo(), ip_adapter_image=photo(), **KW)
    original = img2img.scheduler
    err = _raised(lambda: setattr(img2img, "scheduler", "DDIM"))  # diffusers refuses the text as it is set
    assert "pipeline.scheduler = DDIMScheduler.from_pretrained(repo_id, subfolder='scheduler')" in format_note(err)
    assert img2img.scheduler is original
    img2img.__dict__.pop("_tutorial_said", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img2img("an astronaut without a helmet", image=photo(), **KW)  # chapter 2's lesson
        img2img("a cat", image=np.dstack([np.asarray(photo(), np.float32) / 255, np.ones((64, 64, 1), np.float32)]),
                **KW)  # plt.imread of a PNG: RGBA floats
    words = " ".join(str(w.message) for w in caught)
    assert "negative_prompt='helmet'" in words and "RGBA, as plt.imread returns" in words
    img2img.__dict__.pop("_tutorial_said", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        img2img("a street sign that says no parking, not for sale", image=photo(), **KW)  # ordinary words
        img2img(prompt_embeds=torch.randn(1, 154, 32), guidance_scale=0.0, image=photo(), **KW)  # no negative used
    assert not [w for w in caught if "negation" in str(w.message)]
    with pytest.raises(TypeError, match=r"on must be True or False, got 'off'"):
        explain.explain_errors("off")
    panel = Panel(img2img, "a cat", fixed={"image": photo()})  # the prompt by position, as for a pipeline
    with pytest.raises(KeyError, match=r"no control 'steps'; .*Did you mean 'num_inference_steps'\?"):
        panel.controls["steps"]


def test_compel_weights_written_apart_and_a_fractional_noise_level(pipes):
    from compel import Compel

    from helpers import checks

    explain.wrap_pipelines()
    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compel("an astronaut in a jungle ++")
        compel("portrait of a woman - oil painting")  # a dash between phrases: not a weight
    said = [str(w.message) for w in caught if type(w.message).__name__ == "CallWarning"]
    assert len(said) == 1 and "Write jungle++" in said[0]
    with pytest.raises(ValueError, match=r"noise_level=0.2 counts noise steps.*not a fraction"):
        checks.check_noise_level(0.2)


@pytest.mark.parametrize(("make", "says"), [
    (lambda: _return_dict_false(), "output[0][0] is the first"),
    (lambda: Image.new("RGB", (4, 4)).save("/tmp/result"), "image.save('result.png')"),
    (lambda: Image.new("RGB", (4, 4)).resize(512), "image.resize((512, 512))"),
])
def test_more_library_errors_get_their_note(make, says):
    assert says in (format_note(_raised(make)) or "")


RESULTS = ({"depth": 1}, {"depth": 2})  # a depth estimator's answer for two pictures


@pytest.mark.parametrize(("make", "says"), [
    (lambda: list(RESULTS)["depth"], "results[0]['depth']"),
    (lambda: Image.fromarray(Image.new("RGB", (4, 4))), "given a PIL picture already"),
])
def test_results_lists_and_pictures_made_twice_get_their_note(make, says):
    assert says in (format_note(_raised(make)) or "")
    assert format_note(_raised(lambda: list(RESULTS)["name"])) is None  # another list read by name: no guess


def test_loading_slips_of_the_third_probe(tmp_path):
    from diffusers import AutoPipelineForImage2Image, StableDiffusionImg2ImgPipeline

    prior = _raised(lambda: AutoPipelineForImage2Image.from_pretrained("kandinsky-community/kandinsky-2-2-prior"))
    assert "kandinsky-2-2-decoder', ...) (chapter 3)" in format_note(prior)
    single = _raised(lambda: StableDiffusionImg2ImgPipeline.from_single_file(SD))
    assert f"StableDiffusionImg2ImgPipeline.from_pretrained('{SD}'" in format_note(single)
    elsewhere = _raised(lambda: StableDiffusionImg2ImgPipeline.from_pretrained(SD, cache_dir=str(tmp_path)))
    assert f"cache_dir='{tmp_path}'" in format_note(elsewhere) and "leave cache_dir= out" in format_note(elsewhere)


def test_compel_blend_counts_and_padding_given_one_by_one(pipes):
    from compel import Compel

    explain.wrap_pipelines()
    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    def unpacked():
        embeds, pooled = compel("a cat")  # SDXL's pattern on SD 1.5  # noqa: F841

    assert "compel returned one tensor" in format_note(_raised(unpacked))
    blend = _raised(lambda: compel('("a cat", "a dog").blend(0.7)'))
    assert '("a cat", "a dog").blend(0.7, 0.3)' in format_note(blend)
    a, b = compel("a cat"), compel("a dog")
    with pytest.raises(TypeError, match=r"given 2 tensors, one by one: pass them in a list"):
        compel.pad_conditioning_tensors_to_same_length(a, b)
    assert len(compel.pad_conditioning_tensors_to_same_length([a, b])) == 2  # the list form is untouched


def test_calls_that_run_but_were_meant_otherwise(pipes):
    from types import SimpleNamespace

    from diffusers import AutoencoderTiny, LCMScheduler

    from helpers.families import check_families
    from helpers.mixups import check_mixups

    grey = photo().convert("L").convert("RGB")
    control, t2i = pipes["control"], pipes["t2i"]

    def said(pipeline, **args):
        pipeline.__dict__.pop("_tutorial_said", None)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_mixups(pipeline, args)
        return " ".join(str(w.message) for w in caught)

    assert "If they are swapped" in said(control, image=grey, control_image=photo())
    assert said(control, image=photo(), control_image=grey) == ""  # the chapter's way round
    two = torch.randn(2, 77, 32)
    assert "embeds.chunk(2)" in said(pipes["img2img"], prompt_embeds=two, image=photo())
    assert said(pipes["img2img"], prompt_embeds=two, negative_prompt_embeds=two, image=photo()) == ""
    assert said(t2i, prompt_embeds=two) == ""  # two prompts for text-to-image: a batch, as meant
    assert "look divided by it" in said(t2i, image=torch.randn(1, 4, 8, 8) * 5.5)
    assert said(t2i, image=torch.randn(1, 4, 8, 8)) == ""
    lcm = SimpleNamespace(scheduler=LCMScheduler.from_config(t2i.scheduler.config), unet=t2i.unet)
    assert "lcm-lora-sdv1-5" in said(lcm)
    tiny = AutoencoderTiny.from_pretrained("madebyollin/taesd", **load_args("madebyollin/taesd"))
    xl = SimpleNamespace(vae=tiny, unet=SimpleNamespace(config=SimpleNamespace(addition_embed_type="text_time")))
    with pytest.raises(ValueError, match=r"madebyollin/taesd, made for SD 1.x/2.x latents.*madebyollin/taesdxl"):
        check_families(xl)
    check_families(SimpleNamespace(vae=tiny, unet=t2i.unet))  # taesd on SD 1.5: its own family
    xl.vae = t2i.vae  # SD 1.5's own VAE in an SDXL pipeline
    with pytest.raises(ValueError, match=r"an SD 1.x/2.x VAE \(scaling_factor 0.18215\).*leave vae= out"):
        check_families(xl)


def test_hints_that_fit_the_name_given(pipes):
    import inspect
    from types import SimpleNamespace

    from diffusers import StableDiffusionControlNetPipeline, StableDiffusionUpscalePipeline

    from helpers.callbatch import check_embeds_given_whole, check_kinds
    from helpers.callcontrol import check_control
    from helpers.callnames import bind_hint, check_names

    img2img = pipes["img2img"]
    with pytest.raises(TypeError, match=r"guidance_rescale= is an argument of StableDiffusionPipeline.*leave it out"):
        check_names(img2img, inspect.signature(type(img2img).__call__), {"guidance_rescale": 0.7})
    x4 = object.__new__(StableDiffusionUpscalePipeline)
    with pytest.raises(TypeError, match=r"takes no strength=: an upscaler enlarges.*noise_level= \(default 20\)"):
        check_names(x4, inspect.signature(StableDiffusionUpscalePipeline.__call__), {"strength": 0.3})
    missing = TypeError("missing a required argument: 'negative_image_embeds'")
    assert "negative_image_embeds=prior_output.negative_image_embeds" in bind_hint(img2img, missing)
    assert "Pass arguments by name" not in bind_hint(img2img, missing)
    text_control = StableDiffusionControlNetPipeline(**pipes["t2i"].components, controlnet=pipes["control"].controlnet)
    with pytest.raises(TypeError, match=r"here image= is the control picture.*from_pipe\(pipeline, controlnet=None\)"):
        check_control(text_control, {})
    with pytest.raises(TypeError, match=r"padding_mask_crop=True is True/False.*padding_mask_crop=32"):
        check_kinds(pipes["inpaint"], {"padding_mask_crop": True})
    with pytest.raises(TypeError, match=r"original_size=1024 is one number.*original_size=\(1024, 1024\)"):
        check_kinds(img2img, {"original_size": 1024})
    check_kinds(img2img, {"strength": 0.5, "return_dict": True})  # the usual kinds pass
    with pytest.raises(TypeError, match=r"the prior's whole output.*prior_output.image_embeds"):
        check_embeds_given_whole(img2img, {"image_embeds": SimpleNamespace(image_embeds=torch.zeros(1, 4))})


def test_parts_of_another_family_and_second_prompts(pipes):
    from types import SimpleNamespace

    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    from helpers.families import check_families
    from helpers.ignored import check_second_prompt

    xl_unet = SimpleNamespace(config=SimpleNamespace(addition_embed_type="text_time", cross_attention_dim=64))
    with pytest.raises(ValueError, match=r"trained beside an SD 1.x/2.x UNet, and this .* is SDXL: a ControlNet only"):
        check_families(SimpleNamespace(controlnet=pipes["control"].controlnet, unet=xl_unet))
    check_families(pipes["control"])  # the chapter's pair

    class KandinskyV22InpaintPipeline:  # the name is what the check reads; the image-to-image decoder's UNet
        unet = SimpleNamespace(config=SimpleNamespace(in_channels=4))

    with pytest.raises(ValueError, match=r"4 input channels.*kandinsky-2-2-decoder-inpaint"):
        check_families(KandinskyV22InpaintPipeline())
    refiner = SimpleNamespace(text_encoder=None, text_encoder_2=object())
    explain.wrap_pipelines()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_second_prompt(refiner, {"prompt": "a cat", "prompt_2": "oil painting"})
        DDIMScheduler.from_config(pipes["t2i"].scheduler.config, use_karras_sigmas=True)
        EulerDiscreteScheduler.from_config(pipes["t2i"].scheduler.config, use_karras_sigmas=True)  # it has it
    said = [str(w.message) for w in caught if type(w.message).__name__ == "CallWarning"]
    assert len(said) == 2 and "prompt_2= is ignored" in said[0] and "DDIMScheduler has no use_karras_sigmas=" in said[1]


def test_library_errors_of_the_third_probe_get_their_note(pipes):
    from diffusers import AutoPipelineForImage2Image, ControlNetModel, StableDiffusionImg2ImgPipeline
    from diffusers.pipelines.stable_diffusion import StableDiffusionPipelineOutput
    from transformers import pipeline as transformers_pipeline

    t2i = pipes["t2i"]

    def returns_latents(pipe, i, t, kwargs):
        return kwargs["latents"]

    cases = [
        (lambda: t2i("a", height=64, width=64, num_inference_steps=1, callback_on_step_end=returns_latents),
         "end with `return callback_kwargs`"),
        (lambda: t2i.vae.encode(photo()), "image_processor.preprocess(picture)"),
        (lambda: t2i.image_processor.postprocess(t2i.vae.decode(torch.zeros(1, 4, 8, 8))), ".sample, then"),
        (lambda: t2i.image_processor.postprocess(torch.zeros(3, 8, 8)), "latents[:1] or latents[0][None]"),
        (lambda: StableDiffusionPipelineOutput(images=[photo()], nsfw_content_detected=None).save("x.png"),
         "output.images[0].save('out.png')"),
        (lambda: t2i.tokenizer_2, "Compel(tokenizer=pipeline.tokenizer, text_encoder=pipeline.text_encoder)"),
        (lambda: transformers_pipeline("depth-estimation", model=DEPTH), "diffusers ControlNetModel, not a"),
        (lambda: StableDiffusionImg2ImgPipeline(**pipes["control"].components), "from_pipe(control_pipeline, "
         "controlnet=None)"),
        (lambda: ControlNetModel.from_pretrained(DEPTH, subfolder="controlnet"), "leave subfolder= out"),
        (lambda: AutoPipelineForImage2Image.from_pretrained("stabilityai/stable-diffusion-x4-upscaler"),
         "StableDiffusionUpscalePipeline.from_pretrained(repo_id, **load_args(repo_id)) (chapter 3)"),
    ]
    if not torch.cuda.is_available():  # transformers' own pipeline asked for CUDA: its device=, not fit_to_machine
        cuda = _raised(lambda: transformers_pipeline("depth-estimation", model="depth-anything/Depth-Anything-V2-"
                                                      "Small-hf", device="cuda"))
        assert "device=pick_device()" in format_note(cuda)
        assert "generator=make_generator(seed, device)" in format_note(_raised(lambda: torch.Generator("cuda")))
    from diffusers import StableDiffusionUpscalePipeline

    x2_repo = "stabilityai/sd-x2-latent-upscaler"
    x2 = format_note(_raised(lambda: StableDiffusionUpscalePipeline.from_pretrained(x2_repo)))
    assert "StableDiffusionLatentUpscalePipeline.from_pretrained(repo_id, ...)." in x2 and "AutoPipeline" not in x2
    for make, says in cases:
        assert says in (format_note(_raised(make)) or ""), says
    kandinsky = AttributeError("'KandinskyV22Img2ImgCombinedPipeline' object has no attribute 'vae'")
    assert "pipeline.movq" in format_note(kandinsky)


def test_panels_keep_the_learners_work_and_runs_apart(pipes, tmp_path):
    from helpers import panel_save
    from helpers.panel import Panel, earlier

    img2img, start = pipes["img2img"], photo()
    make = {"prompt": "a cat", "num_inference_steps": 2, "fixed": {"image": start}}
    for bad, says in [({"save_dir": tmp_path / "best.png"}, r"looks like a file name.*panel.save\(path="),
                      ({"fixed": {"image": start, "output_type": "np"}}, r"output_type='np'.*leave output_type out")]:
        with pytest.raises(ValueError, match=says):
            Panel(img2img, **{**make, **bad})
    (tmp_path / "keep.png").write_bytes(b"mine")
    with pytest.raises(ValueError, match=r"is a file, and save_dir is the folder"):
        Panel(img2img, **make, save_dir=tmp_path / "keep.png")
    seen = []
    own = {"image": start, "callback_on_step_end": lambda p, i, t, kw: seen.append(i) or kw}
    first = Panel(img2img, **{**make, "fixed": own}, seed=np.int64(5))  # a seed from a numpy sweep
    first.stop()
    assert "nothing is running" in first.status.value
    first.generate(wait=True)
    assert seen and first.results[0].params["seed"] == 5  # the learner's callback ran beside the panel's Stop
    with pytest.raises(TypeError, match=r"overwrite must be True or False, got 'no'"):
        first.save(path=tmp_path / "keep.png", overwrite="no")
    assert (tmp_path / "keep.png").read_bytes() == b"mine"
    again = Panel(img2img, **make, seed=5)  # the cell run again: the first panel's picture was never saved
    assert "holds 1 picture(s) not saved" in again.status.value and any(r is first.results[0] for r in earlier)
    earlier.clear()
    panel_save._MADE.clear()
    alone = Panel(img2img, **make, seed=5)
    alone.generate(wait=True)
    both = [Panel(img2img, **make, seed=5) for _ in range(2)]
    for panel in both:
        panel.generate()
    for panel in both:
        panel.wait()
    expected = np.asarray(alone.results[0].image)
    assert all(np.array_equal(np.asarray(p.results[0].image), expected) for p in both)  # runs one at a time


def test_use_models_and_load_args_slips(pipes, tmp_path):
    from helpers import models
    from helpers.loading import load_args

    with pytest.raises(TypeError, match=r"needs= takes a list of repo ids, and got one string: needs=\['a/b'\]"):
        models.use_models(needs="a/b")
    pipes["t2i"].unet.save_pretrained(tmp_path / "unet")  # a folder of the learner's own (save_pretrained)
    assert load_args(str(tmp_path / "unet")) == {"variant": None, "use_safetensors": True}


def test_slips_of_the_fifth_probe(pipes, tmp_path):
    import inspect

    from diffusers import KandinskyV22InpaintPipeline, StableDiffusionPipeline, UNet2DConditionModel

    from helpers.callcheck import check_numbers
    from helpers.callnames import check_names
    from helpers.families import check_families
    from helpers.imagecheck import check_images
    from helpers.mixups import check_mixups
    from helpers.panel import Panel
    from helpers.pictures import convert_array

    spaced = format_note(_raised(lambda: StableDiffusionPipeline.from_pretrained(SD + " ")))
    assert "take the space out" in spaced
    inside = format_note(_raised(lambda: UNet2DConditionModel.from_pretrained(SD + "/unet")))
    assert f"from_pretrained({SD!r}, subfolder='unet'" in inside
    missing = ValueError("Incorrect image source. Must be a valid URL starting with `http://` or `https://`, a valid "
                         f"path to an image file, or a base64 encoded string. Got {tmp_path}/mine.jpg. Failed with "
                         "Incorrect padding")
    assert "there is no file" in format_note(missing)

    class StableDiffusionXLPipeline:  # the text-to-image class, holding the refiner (read from its model_index)
        config = type("Config", (), {"_name_or_path": REFINER})

    with pytest.raises(TypeError, match=r"SDXL's refiner, an image-to-image model.*AutoPipelineForImage2Image"):
        check_families(StableDiffusionXLPipeline())
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    with pytest.raises(ValueError, match=r"they look swapped.*image=init_image, mask_image=mask_image"):
        check_images(pipes["inpaint"], {"image": mask.convert("RGB"), "mask_image": photo()})
    kandinsky = object.__new__(KandinskyV22InpaintPipeline)
    with pytest.raises(TypeError, match=r"takes no strength=: it repaints the masked area from noise"):
        check_names(kandinsky, inspect.signature(KandinskyV22InpaintPipeline.__call__), {"strength": 0.3})
    with pytest.raises(ValueError, match=r"numpy batch of pictures \(1, 64, 64, 3\).*astype\('float32'\) / 255"):
        convert_array(np.zeros((1, 64, 64, 3), np.uint8) + 200, "image")
    with pytest.raises(ValueError, match=r"denoising_start=80 must lie in \[0, 1\].*80 percent: denoising_start=0.8"):
        check_numbers(pipes["img2img"], {"denoising_start": 80})
    pipes["img2img"].__dict__.pop("_tutorial_said", None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_numbers(pipes["img2img"], {"aesthetic_score": 60})
        check_mixups(pipes["img2img"], {"denoising_end": 0.8})
        explain.wrap_pipelines()
        pipes["img2img"]("a cat", image=photo(), num_images_per_prompt=2, **KW)  # one prompt, one picture
    said = " ".join(str(w.message) for w in caught)
    assert "aesthetic_score=60 is outside 0–10" in said and "20% of the noise still in the picture" in said
    assert "text prompts" not in said  # diffusers' warning about prompts and pictures, wrong for this call
    (tmp_path / "notes.txt").write_text("mine")
    panel = Panel(pipes["img2img"], "a cat", num_inference_steps=2, fixed={"image": photo()})
    panel.generate(wait=True)
    with pytest.raises(NotADirectoryError, match=r"notes.txt is a file, so it cannot be a folder"):
        panel.save(path=tmp_path / "notes.txt" / "pic.png")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_slips_of_the_sixth_probe(pipes, tmp_path, capsys):
    from compel import Compel

    from helpers.callcheck import check_numbers
    from helpers.loading import load_args

    with pytest.raises(TypeError, match=r"controlnet_conditioning_scale=80 is a whole number.*=80.0"):
        check_numbers(pipes["control"], {"controlnet_conditioning_scale": 80})
    pipes["control"].__dict__.pop("_tutorial_said", None)
    explain.wrap_pipelines()
    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_numbers(pipes["control"], {"controlnet_conditioning_scale": 80.0})
        compel("a [cat|dog] in a garden")
    said = " ".join(str(w.message) for w in caught)
    assert "not a percent; try 0.5–1.0" in said and '("cat", "dog").blend(0.5, 0.5)' in said
    from helpers.grid import captioned_grid

    with pytest.raises(TypeError, match=r"a whole batch as output_type='pt' or 'np' returns it.*numpy_to_pil"):
        captioned_grid(torch.rand(2, 3, 8, 8))
    mps = RuntimeError("PyTorch is not linked with support for mps devices")
    assert "pick_device()" in format_note(mps)
    folder = tmp_path / "stable-diffusion-v1-5" / "stable-diffusion-v1-5"  # a save named like the repo id
    pipes["t2i"].unet.save_pretrained(folder / "unet")
    capsys.readouterr()
    load_args(str(folder / "unet"))
    assert "(a folder on this machine, not the Hub repo)" in capsys.readouterr().out
