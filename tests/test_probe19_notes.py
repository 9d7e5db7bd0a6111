"""From a nineteenth probe: habits from torch and numpy, pickled pipelines, and prompts that grow by themselves."""

import numpy as np
import pytest
import torch
from conftest import checked_pipes, noted, raised, said
from PIL import Image

START = Image.new("RGB", (64, 64), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_torch_and_numpy_habits_on_pictures():
    picture = START
    meaning, fix = noted(lambda: picture.size())
    assert "picture.size is a picture's (width, height) pair, not a method" in meaning and "= picture.size" in fix
    meaning, fix = noted(lambda: picture.shape)
    assert "has no .shape" in meaning and "np.asarray(picture).shape" in fix
    meaning, fix = noted(lambda: Image.fromarray((np.asarray(picture.convert("L")) > 128) * 255))
    assert "int64" in meaning and "np.clip(array, 0, 255).astype(np.uint8)" in fix
    pair = (1, 2)
    assert noted(lambda: pair()) == ("", "")  # no .size() on the line: nothing about PIL


def test_settings_and_pickles_and_a_decimal_comma(pipes, tmp_path):
    def set_guidance():
        pipes["t2i"].guidance_scale = 12

    meaning, fix = noted(set_guidance)
    assert "guidance_scale is read-only" in meaning and "pipeline(..., guidance_scale=...)" in fix
    torch.save(pipes["t2i"].scheduler, tmp_path / "scheduler.pt")  # a small diffusers object, pickled whole
    meaning, fix = noted(lambda: torch.load(tmp_path / "scheduler.pt"))
    assert "pickled by torch.save" in meaning and "save_pretrained(folder)" in fix
    meaning, fix = noted(lambda: compile("pipeline(prompt, guidance_scale=7,5)", "<cell>", "exec"))
    assert "guidance_scale=7,5 reads as guidance_scale=7" in meaning and "guidance_scale=7.5" in fix
    assert noted(lambda: compile("f(a=1, b)", "<cell>", "exec")) == ("", "")  # no number split by a comma
    assert noted(lambda: compile("grid(images, rows=2,2)", "<cell>", "exec")) == ("", "")  # not a fraction setting


def test_the_refiners_one_tokenizer_and_the_combined_kandinsky_parts():
    class Refiner:  # the refiner's layout: no first tokenizer or text encoder
        tokenizer, text_encoder, tokenizer_2 = None, None, object()

    refiner = Refiner()
    meaning, fix = noted(lambda: refiner.tokenizer.tokenize("a castle"))
    assert "refiner.tokenizer is None" in meaning and "refiner.tokenizer_2" in fix
    nothing = None
    assert noted(lambda: nothing.tokenize("a")) == ("", "")  # not a pipeline's part

    def load_into_the_refiner():
        raise ValueError("StableDiffusionXLImg2ImgPipeline requires `self.tokenizer` or passing a `tokenizer` of type "
                         "`PreTrainedTokenizer` for calling `load_textual_inversion`")

    meaning, fix = noted(load_into_the_refiner)
    assert "only its second text encoder" in meaning and "tokenizer=refiner.tokenizer_2" in fix

    def decoder_from_combined():
        raise TypeError("KandinskyV22Img2ImgPipeline.__init__() got an unexpected keyword argument 'prior_prior'")

    meaning, fix = noted(decoder_from_combined)
    assert "prior's parts too" in meaning and "kandinsky.decoder_pipe" in fix


def test_prompts_and_grids_that_repeat_themselves(pipes):
    from helpers.compelcheck import check_compel_text
    from helpers.grid import captioned_grid

    prompt = "a castle, watercolor, watercolor, watercolor"
    words = said(lambda: pipes["t2i"](prompt, height=64, width=64, num_inference_steps=1), only_call_warnings=True)
    assert "ends with 'watercolor' 3 times in a row" in words
    assert "times in a row" not in said(lambda: pipes["t2i"]("a castle, red, blue", height=64, width=64,
                                                             num_inference_steps=1), only_call_warnings=True)
    assert "(jungle)1.5" in said(lambda: check_compel_text(None, "an astronaut in a (jungle) 1.5, detailed"))
    assert "only right after" not in said(lambda: check_compel_text(None, "an astronaut in a (jungle)1.5"))
    tiles = [START] * 3
    assert "one and the same picture object" in said(lambda: captioned_grid(tiles, rows=1, cols=3, twin=False))
    assert said(lambda: captioned_grid([START, START.copy()], rows=1, cols=2, twin=False)) == ""


def test_a_negative_prompt_by_position_and_an_output_without_flags(pipes):
    err = raised(lambda: pipes["img2img"]("a castle", "ugly, deformed", strength=0.5))
    assert "reads like a prompt" in str(err) and "negative_prompt=..." in str(err)
    assert "is a path or URL" in str(raised(lambda: pipes["img2img"]("a castle", image="missing.png")))

    from diffusers.pipelines.pipeline_utils import ImagePipelineOutput

    output = ImagePipelineOutput(images=[START])  # Kandinsky's output: pictures and no safety flags
    meaning, fix = noted(lambda: output.nsfw_content_detected)
    assert "holds only images: this pipeline has no safety checker" in meaning
    assert noted(lambda: output.widht) == ("", "")  # nothing close, and not the flags: no guess
