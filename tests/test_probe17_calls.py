"""From a seventeenth probe: EDM schedulers, call arguments given to from_config, a textual-inversion token without
its brackets, A1111's and NovelAI's prompt syntax, latents beside a larger control picture, SDXL's size conditions
as fractions, ignored aesthetic scores, and a picture turned with rotate(90)."""

import warnings

import pytest
import torch
from conftest import checked_pipes, raised, said
from PIL import Image, ImageOps

from helpers.loading import load_args

START = Image.new("RGB", (64, 64), (120, 80, 40))
CONTROLNET = "lllyasviel/control_v11f1p_sd15_depth"


def _sdxl(cls, **config):
    """An SDXL pipeline of no parts (as the refiner or the inpainting model is configured), for its call check alone."""
    import inspect

    import diffusers

    made = getattr(diffusers, cls)
    parts = [n for n in inspect.signature(made.__init__).parameters if n not in ("self", *config)]
    return made(**dict.fromkeys(parts), **config)


def _control(t2i):
    from diffusers import ControlNetModel, StableDiffusionControlNetImg2ImgPipeline

    net = ControlNetModel.from_pretrained(CONTROLNET, **load_args(CONTROLNET))
    return StableDiffusionControlNetImg2ImgPipeline(**t2i.components, controlnet=net)


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes(control=_control)


def words(pipe, **kwargs) -> str:
    """The CallWarnings of one small call, each case on its own (messages are said once per pipeline)."""
    pipe.__dict__.pop("_tutorial_said", None)
    sized = {} if "image" in kwargs else {"height": 64, "width": 64}
    return said(lambda: pipe(**{"prompt": "a", "num_inference_steps": 1, **sized, **kwargs}),
                only_call_warnings=True)


def test_an_edm_scheduler_on_a_noise_model_is_refused(pipes):
    from diffusers import DPMSolverMultistepScheduler, EDMEulerScheduler, EulerDiscreteScheduler

    t2i = pipes["t2i"]
    kept = t2i.scheduler
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # diffusers' own note on clip_sample
            t2i.scheduler = EDMEulerScheduler.from_config(kept.config)
        err = raised(lambda: words(t2i))
        assert isinstance(err, TypeError) and "made for EDM-trained models" in str(err)
        assert "EulerDiscreteScheduler.from_config(pipeline.scheduler.config)" in str(err)
        # the fix it gives: from the EDM scheduler's config, Euler gets the model's betas back
        t2i.scheduler = EulerDiscreteScheduler.from_config(t2i.scheduler.config)
        assert "pipeline.scheduler" not in words(t2i)
        t2i.scheduler = DPMSolverMultistepScheduler.from_config(kept.config)  # a noise scheduler: quiet
        assert "pipeline.scheduler" not in words(t2i)
    finally:
        t2i.scheduler = kept


def test_a_call_argument_given_to_from_config_is_said(pipes):
    from diffusers import DDIMScheduler, RePaintScheduler

    config = pipes["t2i"].scheduler.config
    text = said(lambda: DDIMScheduler.from_config(config, num_inference_steps=4), only_call_warnings=True)
    assert "num_inference_steps is an argument of the pipeline call, not of the scheduler" in text
    assert "pipeline(..., num_inference_steps=4)" in text
    assert "strength=0.5" in said(lambda: DDIMScheduler.from_config(config, strength=0.5), only_call_warnings=True)
    # a real setting of this scheduler, and one that only shares a call argument's name: quiet
    assert not said(lambda: DDIMScheduler.from_config(config, timestep_spacing="trailing"), only_call_warnings=True)
    assert not said(lambda: RePaintScheduler.from_config(config, eta=0.5), only_call_warnings=True)


def test_a_textual_inversion_token_without_its_brackets(pipes, tmp_path):
    from safetensors.torch import save_file

    from helpers.ignored import check_loaded_tokens

    t2i = pipes["t2i"]
    path = tmp_path / "my_style.safetensors"
    save_file({"<my-style>": torch.randn(t2i.text_encoder.config.hidden_size) * 0.5}, str(path))
    t2i.load_textual_inversion(str(path))
    try:
        text = words(t2i, prompt="astronaut in a jungle, my-style")
        assert "has 'my-style', but the token load_textual_inversion added is <my-style>" in text
        assert "with its brackets: <my-style>" in text
        assert "<my-style>" not in words(t2i, prompt="astronaut in a jungle, <my-style>")
        for fine in ("astronaut in a jungle, my style", "my-styles", "<my-style> and my-style"):
            assert not said(lambda text=fine: check_loaded_tokens(t2i, {"prompt": text})), fine
    finally:
        t2i.unload_textual_inversion("<my-style>")
    assert not said(lambda: check_loaded_tokens(t2i, {"prompt": "my-style"}))  # unloaded: nothing to say


def test_a1111_and_novelai_syntax_in_compel_and_in_plain_prompts(pipes):
    from compel import Compel

    from helpers.compelcheck import check_compel_text
    from helpers.ignored import check_weighting

    t2i = pipes["t2i"]
    compel = Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder)

    def told(text):
        return said(lambda: compel(text), only_call_warnings=True)

    down = told("Astronaut in a [jungle], cold color palette")
    assert "compel does not know A1111's [jungle]" in down and "jungle- (weight 0.9) or (jungle)0.9" in down
    chunks = told("Astronaut in a jungle BREAK cold color palette, muted colors")
    assert "A1111's BREAK" in chunks and '("Astronaut in a jungle", "cold color palette, muted colors").and()' in chunks
    up = told("Astronaut in a {jungle}, cold color palette")
    assert "NovelAI's {jungle}" in up and "jungle+ (weight 1.1) or (jungle)1.05" in up

    def checked(text):  # the check alone, without encoding
        return said(lambda: check_compel_text(compel, text))

    assert "compel writes it (dark forest)+ (weight 1.1)" in checked("a {dark forest}")
    for fine in ("Astronaut in a jungle-, cold", "Astronaut in a (jungle)0.9", "a jungle+", "a wave about to break",
                 '("a jungle", "cold colours").and()', "<my-style> in a jungle"):
        assert "does not know" not in checked(fine), fine
    assert "does not know" not in checked("a [jungle|forest]")  # A1111's alternation has its own message
    text = words(t2i, prompt="Astronaut in a [jungle]")  # a plain prompt: the same syntax, read as words
    assert "prompt uses A1111's [jungle]" in text and "With compel write jungle- (weight 0.9)" in text

    def plain(text):
        return said(lambda: check_weighting({"prompt": text}))

    text = plain("a photo of {subject}")  # a forgotten f before the quotes reads the same
    assert "NovelAI's {subject}" in text and 'put an f before the quotes: f"...{subject}..."' in text
    assert "A1111's BREAK" in plain("a jungle BREAK cold colours")
    assert not plain("a wave about to break, a jungle-lit sci-fi city (1990), 16:9, <my-style>")


def test_latents_beside_a_larger_control_picture(pipes):
    latents = pipes["img2img"]("a", image=START, strength=1.0, num_inference_steps=1, output_type="latent").images
    control = pipes["control"]
    err = raised(lambda: control("a", image=latents, control_image=START.resize((128, 128)), strength=1.0,
                                 num_inference_steps=1))
    assert isinstance(err, ValueError)
    assert "which decode to 64×64, and control_image is 128×128" in str(err)
    assert "control_image = control_image.resize((64, 64))" in str(err)
    err = raised(lambda: control("a", image=latents, control_image=START, height=128, width=128, strength=1.0,
                                 num_inference_steps=1))
    assert "Pass height=64, width=64, or leave both out" in str(err)
    out = control("a", image=latents, control_image=START, strength=1.0, num_inference_steps=1)  # sizes fit
    assert out.images[0].size == (64, 64)


def test_sdxl_size_conditions_given_as_fractions():
    from helpers.callranges import check_ranges

    refiner = _sdxl("StableDiffusionXLImg2ImgPipeline", requires_aesthetics_score=True)
    text = said(lambda: check_ranges(refiner, {"image": START, "crops_coords_top_left": (0.5, 0.5)}))
    assert "crops_coords_top_left=(0.5, 0.5) counts pixels, not shares" in text
    assert "crops_coords_top_left=(32, 32)" in text
    assert "original_size=(512, 1024)" in said(lambda: check_ranges(refiner, {"original_size": (0.5, 1.0)}))
    for fine in ((0, 0), (16, 16), (0.0, 0.0)):
        assert not said(lambda v=fine: check_ranges(refiner, {"image": START, "crops_coords_top_left": v}))


def test_aesthetic_scores_where_the_pipeline_leaves_them_out():
    from helpers.callranges import check_ranges

    # as diffusers/stable-diffusion-xl-1.0-inpainting-0.1 loads: its config says requires_aesthetics_score=False
    inpaint = _sdxl("StableDiffusionXLInpaintPipeline", requires_aesthetics_score=False)
    text = said(lambda: check_ranges(inpaint, {"aesthetic_score": 9.0, "negative_aesthetic_score": 2.5}))
    assert "aesthetic_score=9.0 is ignored: StableDiffusionXLInpaintPipeline's config has " \
           "requires_aesthetics_score=False" in text and "Leave aesthetic_score out here" in text
    assert not said(lambda: check_ranges(inpaint, {"aesthetic_score": 6.0}))  # diffusers' default: nothing asked
    refiner = _sdxl("StableDiffusionXLImg2ImgPipeline", requires_aesthetics_score=True)  # the refiner reads it
    assert not said(lambda: check_ranges(refiner, {"aesthetic_score": 9.0, "negative_aesthetic_score": 2.5}))


def test_a_picture_turned_with_rotate_keeps_its_canvas(pipes):
    from helpers.callranges import check_rotated_canvas

    img2img = pipes["img2img"]
    wide = Image.new("RGB", (64, 48), (120, 80, 40))
    text = words(img2img, image=wide.rotate(90), strength=1.0)
    assert "pure black bands 8 px wide at its left and right" in text
    assert "picture.transpose(Image.Transpose.ROTATE_90)" in text and "rotate(90, expand=True)" in text
    tall = Image.new("RGB", (48, 64), (120, 80, 40)).rotate(90)
    assert "at its top and bottom" in words(img2img, image=tall, strength=1.0)
    assert "black bands" not in words(img2img, image=wide.transpose(Image.Transpose.ROTATE_90), strength=1.0)
    fine = [wide.rotate(90, expand=True), Image.new("RGB", (64, 48)),  # a black picture: no middle to find
            ImageOps.pad(Image.new("RGB", (64, 24), (120, 80, 40)), (64, 48)),  # a letterboxed picture
            ImageOps.pad(Image.new("RGB", (48, 24), (120, 80, 40)), (64, 48)),  # padded at all four sides
            Image.effect_noise((64, 48), 60).convert("RGB")]  # a photo, dark corners and all
    for picture in fine:
        assert "black bands" not in said(lambda p=picture: check_rotated_canvas({"image": p}))
