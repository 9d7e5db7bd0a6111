"""From a twenty-first probe: prompt text no one reads as meant, and a scheduler setting set as an attribute."""

import pytest
from conftest import checked_pipes, said

RUN = {"height": 64, "width": 64, "num_inference_steps": 1}


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_full_width_punctuation_a1111_editing_and_a_negative_embedding_not_loaded(pipes):
    t2i = pipes["t2i"]
    words = said(lambda: t2i("astronaut in a jungle， cold color palette", **RUN), True)
    assert "'，', a Chinese keyboard's full-width punctuation" in words
    assert "'astronaut in a jungle, cold color palette'" in words
    assert said(lambda: t2i("astronaut in a jungle, cold color palette", **RUN), True) == ""  # the fix
    assert "full-width" not in said(lambda: t2i("丛林里的宇航员，冷色调", **RUN), True)  # the Chinese-text note says it
    words = said(lambda: t2i("a photo of [jungle:forest:0.5]", **RUN), True)
    assert "A1111's prompt editing (from 'jungle' to 'forest' at 50% of the steps)" in words
    assert '("jungle", "forest").blend(0.5, 0.5)' in words
    words = said(lambda: t2i("astronaut", negative_prompt="EasyNegative, blurry", **RUN), True)
    assert "'EasyNegative' is the name of an A1111 textual-inversion embedding" in words
    assert "load_textual_inversion('path/to/EasyNegative.safetensors', token='EasyNegative')" in words
    from types import SimpleNamespace

    from helpers.promptslips import missing_embedding

    loaded = SimpleNamespace(tokenizer=SimpleNamespace(added_tokens_encoder={"EasyNegative": 49408}))
    assert missing_embedding(loaded, "EasyNegative, blurry") is None  # loaded with token="EasyNegative": fine
    assert missing_embedding(t2i, "an easy negative space") is None  # ordinary words are not the name


def test_a_compel_weight_in_percent():
    from helpers.promptslips import percent_weight

    assert percent_weight("(jungle)150%, cold") == ("compel reads (jungle)150% as weight 150 and the '%' as a word: "
                                                    "its weights are factors, not percentages. Write (jungle)1.5 for "
                                                    "150%.")
    assert percent_weight("(jungle)1.5, 100% cotton") is None
    from compel.prompt_parser import PromptParser

    [fragment] = PromptParser().parse_conjunction("(jungle)1.5").prompts[0].children  # the fix, as compel reads it
    assert fragment.weight == 1.5


def test_a_scheduler_setting_set_as_an_attribute(pipes):
    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    t2i = pipes["t2i"]
    before = t2i.scheduler
    try:
        t2i.scheduler = DDIMScheduler.from_config(before.config)
        t2i.scheduler.timestep_spacing = "trailing"
        words = said(lambda: t2i("a cat", **RUN), True)
        assert "pipeline.scheduler.timestep_spacing = 'trailing' made a plain attribute" in words
        assert "is still 'leading'" in words
        t2i.scheduler = DDIMScheduler.from_config(t2i.scheduler.config, timestep_spacing="trailing")  # the fix
        assert said(lambda: t2i("a cat", **RUN), True) == ""
        assert t2i.scheduler.config.timestep_spacing == "trailing"
        t2i.scheduler = EulerDiscreteScheduler.from_config(before.config)
        t2i.scheduler.use_karras_sigmas = True  # Euler keeps this one as an attribute of its own
        assert "plain attribute" not in said(lambda: t2i("a cat", **RUN), True)
    finally:
        t2i.scheduler = before


def test_inpainting_with_height_alone_is_told_to_pass_width_too(pipes):
    from diffusers import StableDiffusionInpaintPipeline
    from PIL import Image

    from helpers.images import make_mask

    inpaint = StableDiffusionInpaintPipeline(**pipes["t2i"].components)
    inpaint.set_progress_bar_config(disable=True)
    photo, mask = Image.new("RGB", (64, 64), (120, 80, 40)), make_mask((64, 64), box=(8, 8, 40, 40))
    words = said(lambda: inpaint("a house", image=photo, mask_image=mask, height=64, num_inference_steps=1), True)
    assert "pass width= too, e.g. height=64, width=64 (the picture's own width)" in words
    out = []
    assert said(lambda: out.append(inpaint("a house", image=photo, mask_image=mask, height=64, width=64,
                                           num_inference_steps=1)), True) == ""  # the fix
    assert out[0].images[0].size == (64, 64)


def test_a_height_slider_fix_keeps_its_start_on_the_grid(pipes):
    from conftest import raised

    from helpers.panel import Panel, Slider

    err = raised(lambda: Panel(pipes["t2i"], prompt="a house", extras=[Slider("height", 256, 128, 512, step=100)]))
    assert "e.g. Slider('height', 256, 128, 512, step=64)" in str(err)  # 256 = 128 + 2 × 64: the start is reachable
