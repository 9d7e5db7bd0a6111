"""From a twentieth probe: calls that ran silently wrong (a size, seeds of a batch, unpadded embeddings, compel)."""

import numpy as np
import pytest
import torch
from conftest import checked_pipes, raised, said
from PIL import Image

from helpers.device import make_generator

REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"
START = Image.new("RGB", (64, 64), (120, 80, 40))
PROMPT = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"


def _refiner(t2i):
    from diffusers import AutoPipelineForImage2Image

    from helpers.loading import load_args

    return AutoPipelineForImage2Image.from_pretrained(REFINER, **load_args(REFINER))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes(refiner=_refiner)


@pytest.fixture(scope="module")
def compel(pipes):
    from compel import Compel

    t2i = pipes["t2i"]
    return Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder)


def _diff(a, b) -> float:
    return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).max())


def test_height_without_width_is_said_with_both_sizes(pipes):
    from diffusers import StableDiffusionInpaintPipeline, StableDiffusionXLPipeline

    from helpers.sizeslips import check_half_size

    t2i = pipes["t2i"]
    run = {"num_inference_steps": 1, "guidance_scale": 1.0}
    out = []
    words = said(lambda: out.append(t2i("a castle", height=64, **run).images[0]), only_call_warnings=True)
    assert "height=64 without width= is ignored" in words and "default size, 512×512" in words
    assert "Pass both: height=64, width=512." in words
    assert out[0].size == (512, 512)  # what diffusers 0.42 does with it
    words = said(lambda: out.append(t2i("a castle", height=64, width=512, **run).images[0]), only_call_warnings=True)
    assert words == "" and out[1].size == (512, 64)  # the fix: the size asked for
    assert "Pass both: height=512, width=64." in said(lambda: check_half_size(t2i, {"width": 64}))
    assert said(lambda: check_half_size(t2i, {"height": 512})) == ""  # the default: it makes what was asked
    for cls in (StableDiffusionXLPipeline, StableDiffusionInpaintPipeline):  # these keep the size that was given
        assert said(lambda c=cls: check_half_size(c.__new__(c), {"height": 64})) == ""


def test_a_batch_picture_remade_with_seed_plus_i_is_said_then_not_before(pipes):
    img2img = pipes["img2img"]
    run = {"image": START, "strength": 1.0, "num_inference_steps": 2}
    batch = []
    words = said(lambda: batch.extend(img2img("a castle", num_images_per_prompt=3, generator=make_generator(0, "cpu"),
                                              **run).images), only_call_warnings=True)
    assert "seed" not in words  # diffusers' own idiom, one generator for a batch, is right as it stands
    alone = []
    words = said(lambda: alone.extend(img2img("a castle", generator=make_generator(i, "cpu"), **run).images[0]
                                      for i in range(3)), only_call_warnings=True)
    assert "seed 1 does not remake picture 2" in words and "take .images[1]" in words
    assert "generator=[make_generator(0 + i, device) for i in range(3)]" in words
    assert _diff(batch[1], alone[1]) > 20  # what the warning says
    assert said(lambda: img2img("a dog", generator=make_generator(1, "cpu"), **run), True) == ""  # another prompt
    each = []
    words = said(lambda: each.extend(img2img("a castle", num_images_per_prompt=3, **run, generator=[
        make_generator(0 + i, "cpu") for i in range(3)]).images), only_call_warnings=True)
    assert words == ""
    assert all(_diff(each[i], alone[i]) <= 2 for i in range(3))  # the fix: picture i is seed i's picture
    img2img.__dict__.pop("_tutorial_said", None)
    assert said(lambda: img2img("a castle", generator=make_generator(1, "cpu"), **run), True) == ""  # a list: right
    from helpers.callwarning import collect_warnings

    img2img("a castle", num_images_per_prompt=2, generator=make_generator(0, "cpu"), **run)
    with collect_warnings() as status:  # a panel's run: it makes the generator, its captions say picture i/n
        img2img("a castle", generator=make_generator(1, "cpu"), **run)
    assert not [w for w in status if "does not remake" in w]


def test_prompt_embeds_not_padded_to_77_tokens(pipes, compel):
    t2i = pipes["t2i"]
    tokenizer, encoder = t2i.tokenizer, t2i.text_encoder
    run = {"negative_prompt": "blurry", "height": 64, "width": 64, "num_inference_steps": 1}
    with torch.no_grad():
        short = encoder(tokenizer(PROMPT, return_tensors="pt").input_ids)[0]
        ids = tokenizer(PROMPT, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                        return_tensors="pt").input_ids
        padded = encoder(ids)[0]
    words = said(lambda: t2i(prompt_embeds=short, **run), only_call_warnings=True)
    assert f"prompt_embeds has {short.shape[1]} tokens" in words and "padded to 77 tokens" in words
    assert f"pads negative_prompt= to {short.shape[1]}" in words and 'padding="max_length"' in words
    out = []
    assert said(lambda: out.append(t2i(prompt_embeds=padded, generator=make_generator(3, "cpu"), **run)),
                only_call_warnings=True) == ""
    text = t2i(PROMPT, generator=make_generator(3, "cpu"), **run).images[0]
    assert _diff(out[0].images[0], text) <= 1  # the fix gives what prompt= gives
    from types import SimpleNamespace

    from helpers.mixups import check_mixups

    sdxl_like = SimpleNamespace(tokenizer=tokenizer, tokenizer_2=tokenizer, text_encoder=encoder)
    assert said(lambda: check_mixups(sdxl_like, {"prompt_embeds": short}), True) == ""  # two encoders: not SD's fix
    t5_wide = torch.zeros(1, 512, encoder.config.hidden_size + 8)  # Flux's T5 states: another width, another length
    assert said(lambda: check_mixups(SimpleNamespace(tokenizer=tokenizer, text_encoder=encoder),
                                     {"prompt_embeds": t5_wide}), True) == ""
    # compel's chunks of 77 (a long prompt kept whole) say nothing
    from compel import Compel

    whole = Compel(tokenizer=tokenizer, text_encoder=encoder, truncate_long_prompts=False)
    long = PROMPT + ", " + ", ".join(["highly detailed jungle scene"] * 30)
    positive, negative = whole.pad_conditioning_tensors_to_same_length([whole(long), whole("blurry")])
    assert positive.shape[1] == 231
    words = said(lambda: t2i(prompt_embeds=positive, negative_prompt_embeds=negative, height=64, width=64,
                             num_inference_steps=1), only_call_warnings=True)
    assert "tokens" not in words


def test_compel_blend_in_curly_quotes_inside_a_prompt_and_a1111_brackets(compel):
    # each claim checked against compel's own parse; the wiring through compel(...) once
    from compel import Compel

    from helpers.compelgroups import check_groups

    parse = Compel.parse_prompt_string
    curly = '(“astronaut in a jungle, cold color palette”, “watercolor painting of a jungle”).blend(0.7, 0.3)'
    straight = '("astronaut in a jungle, cold color palette", "watercolor painting of a jungle").blend(0.7, 0.3)'
    words = said(lambda: compel(curly), only_call_warnings=True)  # said as compel encodes it
    assert "curly quotes" in words and "the whole prompt becomes plain words" in words
    assert f"Write: {straight!r}." in words and "Blend" not in str(parse(curly))
    assert said(lambda: check_groups(straight)) == ""
    assert "the quotes become part of the words" in said(lambda: check_groups('(“cat”, “dog”).and()'))

    inside = 'Astronaut in a jungle, ("cold color palette", "sunset").blend(0.5, 0.5), detailed, 8k'
    fix = ('("Astronaut in a jungle, cold color palette, detailed, 8k", "Astronaut in a jungle, sunset, detailed, '
           '8k").blend(0.5, 0.5)')
    words = said(lambda: check_groups(inside))
    assert "only when the whole prompt is one" in words and "plain words" in words and f"{fix!r}" in words
    assert "Blend" not in str(parse(inside))
    assert said(lambda: check_groups(fix)) == "" and "Blend" in str(parse(fix))
    trailing = '("a cat", "a dog").and(), detailed'
    assert "drops the rest: ', detailed' has no effect" in said(lambda: check_groups(trailing))
    assert str(parse(trailing)) == str(parse('("a cat", "a dog").and()'))  # what the warning says
    blend_first = '("a", "b").blend(0.5, 0.5), 8k'
    assert "Expected end of text" in said(lambda: check_groups(blend_first))
    assert "Expected end of text" in str(raised(lambda: parse(blend_first)))  # compel's own words

    brackets = "Astronaut in a ((jungle)), cold color palette"
    words = said(lambda: check_groups(brackets))
    assert "((jungle)): A1111 weighs each pair of brackets ×1.1 (1.21 here)" in words
    assert "(jungle)1.21 or jungle++" in words
    assert [f.weight for f in parse(brackets).prompts[0].children] == [1.0]  # one plain fragment: no weight, as said
    for fixed in ("Astronaut in a (jungle)1.21, cold color palette", "Astronaut in a jungle++, cold color palette"):
        assert said(lambda f=fixed: check_groups(f)) == "" and "'jungle'@1.21" in str(parse(fixed))
    assert said(lambda: check_groups("Astronaut in a ((jungle))++, cold")) == ""
    assert "(red hat)1.21 or (red hat)++" in said(lambda: check_groups("a ((red hat)), cold"))


def test_sdxl_size_conditioning_given_as_picture_size(pipes):
    from helpers.sizeslips import check_size_order

    refiner = pipes["refiner"]
    wide = Image.new("RGB", (64, 40), (120, 80, 40))
    run = {"image": wide, "strength": 0.5, "num_inference_steps": 2}
    out = []
    words = said(lambda: out.append(refiner("a cat", original_size=wide.size, target_size=wide.size, **run,
                                            generator=make_generator(0, "cpu")).images[0]), only_call_warnings=True)
    assert "original_size is (height, width)" in words and "(64, 40) is image.size, which is (width, height)" in words
    assert "Pass original_size=(40, 64), or leave it out" in words
    assert "target_size" not in words  # the refiner conditions on the aesthetic score instead
    fixed = {"original_size": (40, 64), "target_size": (40, 64)}
    assert said(lambda: out.append(refiner("a cat", **fixed, **run, generator=make_generator(0, "cpu")).images[0]),
                only_call_warnings=True) == ""
    out.append(refiner("a cat", **run, generator=make_generator(0, "cpu")).images[0])
    assert _diff(out[1], out[2]) == 0 and _diff(out[0], out[1]) > 0  # the fix is diffusers' own (height, width)

    class SDXL:  # text-to-image: the call's own width= and height=
        pass

    words = said(lambda: check_size_order(SDXL(), {"height": 40, "width": 64, "original_size": (64, 40),
                                                  "target_size": (64, 40)}))
    assert "original_size and target_size are (height, width)" in words
    assert "original_size=(40, 64), target_size=(40, 64)" in words
    assert said(lambda: check_size_order(SDXL(), {"image": START, "original_size": (64, 64)})) == ""  # square
