"""From a sixteenth probe: PIL and output slips, the helpers' keywords, compel typos, strength beside a start."""

import pytest
import torch
from conftest import checked_pipes, noted, raised, said
from PIL import Image

START = Image.new("RGB", (64, 64), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()



def test_notes_for_outputs_pictures_and_the_helpers_keywords(pipes):
    from helpers.images import load_chapter_image, make_mask, mask_coverage

    out = pipes["t2i"]("a", height=64, width=64, num_inference_steps=1)
    meaning, fix = noted(lambda: out.image)
    assert "output.images[0]" in fix
    meaning, fix = noted(lambda: out.images[1])
    assert "made 1 picture(s), and .images[1] asks for more" in meaning
    prompts = ["a"]
    meaning, fix = noted(lambda: pipes["t2i"](prompts[2], num_inference_steps=1).images[0])
    assert not meaning  # the learner's own list was short, not the pictures
    meaning, fix = noted(lambda: out.images[0].size[2])
    assert not meaning  # two subscripts: which one failed cannot be told
    meaning, fix = noted(lambda: [1][3])
    assert not meaning  # the learner's own list: Python's message says it
    meaning, fix = noted(lambda: torch.tensor(START))
    assert "torch.from_numpy(np.array(picture))" in fix
    meaning, fix = noted(lambda: START.crop((0, 0, 32)))
    assert "four numbers" in meaning
    meaning, fix = noted(lambda: START.size[2])
    assert "getbands" in fix
    meaning, fix = noted(lambda: make_mask((64, 64), box=(8, 8, 32, 32), invert=True))
    assert "ImageOps.invert(make_mask(...))" in fix
    meaning, fix = noted(lambda: mask_coverage(make_mask((64, 64), box=(8, 8, 32, 32)), threshold=0.5))
    assert "128 or more" in fix
    meaning, fix = noted(lambda: load_chapter_image("inpaint", mode="L"))
    assert ".convert('L')" in fix
    mask = make_mask((64, 64), box=(8, 8, 32, 32))
    meaning, fix = noted(lambda: Image.composite(mask, START, out.images[0]))
    assert "the mask is in the wrong place" in meaning and "convert('L')" not in fix


def test_preview_frames_and_the_preview_say_where_the_pictures_are(pipes):
    from helpers.preview import StepPreview

    preview = StepPreview(pipes["t2i"])
    pipes["t2i"]("a", height=64, width=64, num_inference_steps=2, callback_on_step_end=preview)
    err = raised(lambda: preview.frames[-1].save("x.png"))
    assert "frame.estimate.save" in str(err)
    assert "preview.frames[0]" in str(raised(lambda: preview[0]))
    assert preview.frames[-1].estimate.size  # the picture the message names is there


def test_strength_beside_denoising_start_is_said(pipes):
    from diffusers import AutoPipelineForImage2Image

    from helpers.loading import load_args

    repo = "stabilityai/stable-diffusion-xl-refiner-1.0"
    refiner = AutoPipelineForImage2Image.from_pretrained(repo, **load_args(repo))
    refiner.set_progress_bar_config(disable=True)
    latents = torch.randn(1, 4, 8, 8)  # a base run's hand-over: for a picture the advice is strength= (probe 18)
    text = said(lambda: refiner("a", image=latents, strength=0.3, denoising_start=0.3, num_inference_steps=4),
                only_call_warnings=True)
    assert "strength=0.3 is ignored" in text and "denoising_start=0.7" in text


def test_a_misspelt_weighted_word_in_compel_is_named(pipes):
    from compel import Compel

    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    assert "did you mean 'jungle'" in said(lambda: compel("an astronaut in a (jungel)1.5"), only_call_warnings=True)
    for fine in ("an astronaut in a (jungle)1.5, castle++", "(bokeh)1.2", "(moonlit)1.2 lake", "(Kodak Portra)1.2",
                 "(sharpness)1.2", "(ugly, deformed)1.5, blurry"):
        assert "did you mean" not in said(lambda text=fine: compel(text), only_call_warnings=True), fine


def test_review_cases_valid_calls_stay_quiet(pipes):
    from diffusers import EulerDiscreteScheduler

    from helpers import chain

    t2i = pipes["t2i"]
    kept = t2i.scheduler
    try:  # a list of timesteps sets the count, so num_inference_steps=None is fine there
        t2i.scheduler = EulerDiscreteScheduler.from_config(kept.config)
        t2i("a", height=64, width=64, num_inference_steps=None, timesteps=[999, 500])
    finally:
        t2i.scheduler = kept
    marked = torch.randn(1, 4, 8, 8, device="meta")  # latents left on another device
    chain.mark_latents(marked, chain.latent_space(t2i))
    t2i.vae.decode(torch.randn(1, 4, 8, 8))  # the check must not stop the decode
    batch = ["red", "green", "blue", "a small yellow bird"]
    assert "', '.join" not in said(lambda: t2i(["red", "green", "blue"], height=64, width=64, num_inference_steps=1),
                                   only_call_warnings=True)
    assert "for a batch, nothing is wrong" in said(
        lambda: t2i(batch, height=64, width=64, num_inference_steps=1), only_call_warnings=True)
