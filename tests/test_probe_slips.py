"""Slips from the seventh and eighth fresh probes: each gets a message that names its own cause and a fix that works."""

import pytest
from PIL import Image

from helpers import explain
from helpers.loading import load_args

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"
DEPTH = "lllyasviel/control_v11f1p_sd15_depth"
KW = {"num_inference_steps": 2, "height": 64, "width": 64}


@pytest.fixture(scope="module")
def pipes():
    from conftest import checked_pipes
    from diffusers import AutoPipelineForImage2Image, ControlNetModel, StableDiffusionControlNetImg2ImgPipeline

    def control(t2i):
        net = ControlNetModel.from_pretrained(DEPTH, **load_args(DEPTH))
        return StableDiffusionControlNetImg2ImgPipeline(**t2i.components, controlnet=net)

    yield from checked_pipes(control=control, refiner=lambda t2i: AutoPipelineForImage2Image.from_pretrained(
        REFINER, **load_args(REFINER)))


def photo(size=64):
    return Image.new("RGB", (size, size), (120, 90, 60))


def test_a_picture_given_where_the_refiner_takes_prompt_2_is_sent_to_image(pipes):
    with pytest.raises(TypeError) as refused:
        pipes["refiner"]("a cat", photo(), strength=0.5, num_inference_steps=2)
    text = str(refused.value)
    assert "prompt_2 got a picture (Image 64x64)" in text and "parameter number 2 is prompt_2" in text
    assert "image=picture" in text and "quotes" not in text


def test_control_guidance_given_as_step_numbers_gets_the_share_of_those_steps(pipes):
    control = photo().convert("L").convert("RGB")
    with pytest.raises(ValueError) as refused:
        pipes["control"]("a cat", image=photo(), control_image=control, num_inference_steps=4,
                         control_guidance_start=2, control_guidance_end=4)
    text = str(refused.value)
    assert "control_guidance_start=2 must lie in [0, 1]" in text
    assert "step 2 of this call's 4 steps: control_guidance_start=0.5" in text and "2 percent" in text
    out = pipes["control"]("a cat", image=photo(), control_image=control, num_inference_steps=4,
                           control_guidance_start=0.5, control_guidance_end=1.0)  # the step reading's fix runs
    assert out.images[0].size == (64, 64)


def test_a_files_bytes_and_a_tiny_icon_are_refused_with_a_fix_that_works(pipes, tmp_path):
    import io

    photo().save(tmp_path / "mine.png")
    data = (tmp_path / "mine.png").read_bytes()
    with pytest.raises(TypeError) as refused:
        pipes["img2img"]("a cat", image=data, num_inference_steps=2)
    text = str(refused.value)
    assert f"{len(data):,} bytes of a file's contents" in text and "Image.open(io.BytesIO(data))" in text
    assert len(text) < 300  # the bytes themselves are not printed
    opened = Image.open(io.BytesIO(data)).convert("RGB")  # the fix
    assert pipes["img2img"]("a cat", image=opened, num_inference_steps=2).images[0].size == (64, 64)
    with pytest.raises(ValueError, match=r"image is 4×4 pixels, smaller than one 8×8 block.*resize\(\(512, 512\)\)"):
        pipes["img2img"]("a cat", image=photo().resize((4, 4)), num_inference_steps=2)
    with pytest.raises(ValueError, match=r"height=4 is not a multiple of 8.*Use 8 at least"):
        pipes["t2i"]("a cat", height=4, width=64, num_inference_steps=2)


def test_latents_multiplied_by_the_scaling_factor_twice_are_said(pipes):
    import warnings

    latents = pipes["t2i"]("a cat", output_type="latent", **KW).images
    factor = pipes["t2i"].vae.config.scaling_factor
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipes["img2img"]("a cat", image=latents * factor, num_inference_steps=2)
        said = " ".join(str(w.message) for w in caught)
    assert "narrower than the latents a pipeline hands on" in said and "image=latents" in said
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        pipes["img2img"]("a cat", image=latents.clone(), num_inference_steps=2)  # as handed on: no such warning
    assert not any("narrower" in str(w.message) for w in caught)


def test_compel_asked_for_two_prompts_at_once_is_told_its_second_parameter(pipes):
    from compel import Compel

    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    prompt_embeds, negative = compel("a cat", "ugly, deformed")  # (embeddings, token ids), without a word
    with pytest.raises(TypeError) as refused:
        pipes["t2i"](prompt_embeds=prompt_embeds, negative_prompt_embeds=negative, **KW)
    assert "negative_prompt_embeds is a list of 1 items holding token ids" in str(refused.value)
    assert "return_tokenization" in str(refused.value)
    fixed = pipes["t2i"](prompt_embeds=compel("a cat"), negative_prompt_embeds=compel("ugly, deformed"), **KW)
    assert fixed.images[0].size == (64, 64)


def _said(call) -> str:
    from conftest import said

    return said(call)


def test_calls_that_run_but_were_meant_otherwise_are_said(pipes):
    t2i = pipes["t2i"]
    said = _said(lambda: t2i("a cat", guidance_scale=0.75, **KW))
    assert "guidance_scale=0.75 is below 1" in said and "1.5 to 3" in said
    assert "below 1" not in _said(lambda: t2i("a cat", guidance_scale=1.0, **KW))  # off on purpose: no word
    said = _said(lambda: t2i("a cat in a jungle, " * 3, **KW))
    assert "written 3 times over" in said and "prompt=[prompt] * 3" in said
    assert "times over" not in _said(lambda: t2i("a cat, a cat with a hat", **KW))
    start = photo()
    said = _said(lambda: pipes["control"]("a cat", image=start, control_image=start, num_inference_steps=2))
    assert "control_image= is the start picture itself" in said and "depth_estimator(init_image)" in said


def test_compel_written_with_a_chinese_keyboard_is_said(pipes):
    from compel import Compel

    explain.wrap_pipelines()  # compel imported: what the chapter's hook does
    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    said = _said(lambda: compel("Astronaut in a （jungle）1.5, cat＋＋"))
    assert "full-width '（'" in said and "'Astronaut in a (jungle)1.5, cat++'" in said
    assert "Chinese, Japanese or Korean" in _said(lambda: compel("宇航员在丛林中"))
    assert _said(lambda: compel("Astronaut in a (jungle)1.5")) == ""


def test_helper_slips_are_told_the_helpers_own_way(pipes, tmp_path):
    from helpers.device import free_memory
    from helpers.loading import load_args
    from helpers.panel import Choice, Panel, Slider

    with pytest.raises(TypeError, match=r"takes no arguments: first `del pipeline`.*then call free_memory\(\)"):
        free_memory(pipes["t2i"])
    with pytest.raises(TypeError, match=r"got variant=.*chooses variant= and use_safetensors= itself"):
        load_args(SD, variant="fp16")
    assert load_args(SD, passed="vae") == load_args(SD, passed=["vae"])  # one folder, not its letters
    with pytest.raises(TypeError, match=r"Choice has no default=; the option shown first is value=.*value='some'"):
        Choice("guidance_rescale", {"off": 0.0, "some": 0.5}, default="some")
    panel = Panel(pipes["t2i"], prompt="a cat", num_inference_steps=2, extras=Slider("guidance_rescale", 0.3, 0.0, 1.0),
                  fixed={"height": 64, "width": 64}, save_dir=tmp_path)
    assert "guidance_rescale" in panel.controls  # one control without a list is taken as it is


def test_a_list_of_callbacks_and_an_img2img_call_without_its_picture_are_refused(pipes):
    def first(pipe, step, timestep, kw):
        return kw

    with pytest.raises(TypeError, match=r"takes one callback, got a list of 2.*def both\(pipe, step, timestep, kw\)"):
        pipes["t2i"]("a cat", callback_on_step_end=[first, first], **KW)
    with pytest.raises(TypeError, match=r"StableDiffusionImg2ImgPipeline needs image=: the start picture"):
        pipes["img2img"]("astronaut", num_inference_steps=2)


def test_a_panel_encoder_without_the_negative_says_the_box_does_nothing(pipes, tmp_path):
    from compel import Compel

    from helpers.panel import Panel

    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    panel = Panel(pipes["t2i"], prompt="a cat", negative_prompt="blurry", num_inference_steps=2,
                  fixed={"height": 64, "width": 64}, save_dir=tmp_path,
                  encode=lambda prompt, negative, values: {"prompt_embeds": compel(prompt)})
    panel.generate(wait=True)
    assert "negative prompt box has no effect" in panel.status.value


def test_whole_number_arrays_of_other_widths_become_pictures(pipes):
    import numpy as np

    sixteen = (np.asarray(photo().convert("L"), dtype=np.int32) * 257)  # a 16-bit scan read with convert("I")
    said = _said(lambda: pipes["img2img"]("a cat", image=np.stack([sixteen] * 3, axis=-1), num_inference_steps=2))
    assert "numpy array of int32" in said and "16-bit" in said
    with pytest.raises(ValueError, match=r"int64 with values -1–5, which is no picture's range"):
        pipes["img2img"]("a cat", image=np.full((64, 64, 3), 5, dtype=np.int64) - np.eye(64, dtype=np.int64)[
            ..., None].repeat(3, -1) * 6, num_inference_steps=2)


def test_a_fine_tune_called_without_its_trigger_words_is_said(pipes):
    from diffusers import AutoPipelineForImage2Image

    comic_id = "ogkalu/Comic-Diffusion"
    comic = AutoPipelineForImage2Image.from_pretrained(comic_id, **load_args(comic_id, allow_pickle=comic_id))
    comic.set_progress_bar_config(disable=True)
    said = _said(lambda: comic("Astronaut in a jungle", image=photo(), num_inference_steps=2))
    assert "fine-tuned on prompts that say 'charliebo artstyle'" in said and "with_trigger(" in said
    assert "fine-tuned" not in _said(lambda: comic("Astronaut, charliebo artstyle", image=photo(),
                                                   num_inference_steps=2))
    assert "fine-tuned" not in _said(lambda: pipes["img2img"]("Astronaut", image=photo(), num_inference_steps=2))


# ---------------------------------------------------------------------------------------------- the eighth probe


def test_control_pictures_are_counted_against_compels_batch_of_prompts(pipes):
    from compel import Compel

    from helpers.notes import note_for

    net = pipes["control"]
    compel = Compel(tokenizer=net.tokenizer, text_encoder=net.text_encoder)
    two, negatives = compel(["a cat in a jungle", "a dog"]), compel(["", ""])
    with pytest.raises(ValueError) as refused:
        net(prompt_embeds=two, negative_prompt_embeds=negatives, image=photo(), control_image=[photo()] * 3,
            num_inference_steps=2)
    text = str(refused.value)
    assert "control_image= holds 3 control pictures" in text and "prompt_embeds with a batch of 2" in text
    assert "a list of 2" in text
    made = net(prompt_embeds=two, negative_prompt_embeds=negatives, image=photo(), control_image=[photo()] * 2,
               num_inference_steps=2)  # the fix runs
    assert len(made.images) == 2
    with pytest.raises(RuntimeError) as raw:  # three start pictures for two prompts: torch's words, and a note
        net(prompt_embeds=two, negative_prompt_embeds=negatives, image=[photo()] * 3, control_image=photo(),
            num_inference_steps=2)
    found = note_for(raw.value)
    assert found and "there are 2 prompts" in found[0]  # counted from prompt_embeds, not "one prompt"
    with pytest.raises(TypeError, match=r"has one ControlNet.*controlnet_conditioning_scale=0.5"):
        net("a cat", image=photo(), control_image=photo(), controlnet_conditioning_scale=[0.5, 0.5],
            num_inference_steps=2)


def test_kandinskys_negatives_must_number_its_prompts():
    from helpers.callbatch import check_kandinsky_negatives

    kandinsky = type("KandinskyV22Img2ImgCombinedPipeline", (), {})()
    with pytest.raises(ValueError, match=r"1 prompt\(s\) and negative_prompt=\['ugly', 'blurry'\].*'ugly, blurry'"):
        check_kandinsky_negatives(kandinsky, {"prompt": "a cat", "negative_prompt": ["ugly", "blurry"]})
    with pytest.raises(ValueError, match=r"negative_prompt=\['ugly'\] \* 2"):
        check_kandinsky_negatives(kandinsky, {"prompt": ["a cat", "a dog"], "negative_prompt": "ugly"})
    for prompt, negative in (("a cat", ["ugly"]), (["a cat"], "ugly"), (["a", "b"], ["c", "d"]), ("a", "b")):
        check_kandinsky_negatives(kandinsky, {"prompt": prompt, "negative_prompt": negative})  # these run in 0.42
    sd = type("StableDiffusionPipeline", (), {})()
    check_kandinsky_negatives(sd, {"prompt": "a cat", "negative_prompt": ["ugly", "blurry"]})  # diffusers says it


def test_decoding_the_pipelines_latents_without_dividing_is_said(pipes):
    t2i = pipes["t2i"]
    latents = t2i("a cat", output_type="latent", **KW).images
    vae = t2i.vae
    said = _said(lambda: vae.decode(latents))
    assert "vae.decode got the latents of output_type='latent' as they came" in said
    assert "vae.decode(latents / vae.config.scaling_factor).sample" in said and "5.5 times too small" in said
    assert "as they came" in _said(lambda: vae.decode(latents[0][None]))  # a view of them still is
    assert "as they came" not in _said(lambda: vae.decode(latents / vae.config.scaling_factor))


def test_a_mask_that_repaints_most_of_the_picture_asks_whether_it_is_inverted():
    from helpers.checks import check_mask
    from helpers.images import make_mask

    keep_the_cat = make_mask((100, 100), box=(0, 0, 100, 100))
    keep_the_cat.paste(0, (40, 40, 77, 77))  # 37 × 37 kept: 86 % repainted
    assert "86% of the image is white" in _said(lambda: check_mask(keep_the_cat))
    assert "white" not in _said(lambda: check_mask(make_mask((100, 100), box=(10, 10, 60, 60))))


def test_compel_imported_and_used_in_one_cell_is_checked(tmp_path, monkeypatch):
    import importlib
    import sys

    from helpers import compelcheck

    # a stand-in compel package, imported for the first time after the checks went on, as in a notebook cell
    (tmp_path / "compel").mkdir()
    (tmp_path / "compel" / "__init__.py").write_text(
        "class Compel:\n    def build_conditioning_tensor(self, text):\n        return text\n\n"
        "    def pad_conditioning_tensors_to_same_length(self, tensors):\n        return tensors\n")
    saved = {name: module for name, module in sys.modules.items() if name.split(".")[0] == "compel"}
    state = dict(compelcheck._STATE)
    for name in saved:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(compelcheck, "_STATE", {"original": None, "init": None, "pad": None})
    try:
        compelcheck.wrap_compel()  # what explain_errors() does: compel is not imported yet
        fresh = importlib.import_module("compel")
        assert fresh.__file__.startswith(str(tmp_path))
        assert hasattr(fresh.Compel.build_conditioning_tensor, "__wrapped__")  # checked from its first use
        assert compelcheck._FINDER not in sys.meta_path  # the finder's work is done
    finally:
        compelcheck.unwrap_compel()
        sys.modules.pop("compel", None)
        sys.modules.update(saved)
        compelcheck._STATE.update(state)
