"""What the twins learned of words (tools/twin_words.py): a prompt path that ignores its input fails here.

A learned word moves the picture and an unknown one does not; prompt_embeds, negative prompts and compel's weights
reach the UNet; the refiner and SD 1.5 inpainting know the words too. At 128 px and 10 steps; the full table at
512 px is `python -m tools.twin_targets words guidance negative compel`. A module of its own, so that the test
workers run it beside the other twin measurements.
"""

import pytest

from helpers.images import load_chapter_image


@pytest.fixture(scope="module")
def astronaut():
    return load_chapter_image("img2img-init", size=(512, 512), offline=True)


WORD_SIZE, WORD_STEPS = 128, 10


@pytest.fixture(scope="module")
def sd15():
    from diffusers import AutoPipelineForText2Image

    pipe = AutoPipelineForText2Image.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5")
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _t2i(pipe, seed=11, **kwargs):
    import torch

    return pipe(height=WORD_SIZE, width=WORD_SIZE, num_inference_steps=WORD_STEPS,
                generator=torch.Generator().manual_seed(seed), **kwargs).images[0]


def test_a_learned_word_moves_the_picture_and_an_unknown_one_does_not(sd15):
    from tools.twin_words import delta_e

    base = _t2i(sd15, prompt="a photo of an astronaut")
    for word in ("jungle", "sunset"):
        assert delta_e(base, _t2i(sd15, prompt=f"a photo of an astronaut, {word}")) >= 20, word
    assert delta_e(base, _t2i(sd15, prompt="a photo of an astronaut, zebra")) < 5


def test_prompt_embeds_and_negative_prompts_reach_the_unet(sd15):
    from tools.twin_words import delta_e, mean_lab

    embeds, _ = sd15.encode_prompt("a photo, jungle", device="cpu", num_images_per_prompt=1,
                                   do_classifier_free_guidance=False)
    plain, _ = sd15.encode_prompt("a photo", device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=False)
    by_embeds = _t2i(sd15, prompt_embeds=embeds)
    assert delta_e(by_embeds, _t2i(sd15, prompt="a photo, jungle")) < 1  # the same prompt, either way in
    assert delta_e(by_embeds, _t2i(sd15, prompt_embeds=plain)) >= 20
    without, against = _t2i(sd15, prompt="a photo"), _t2i(sd15, prompt="a photo", negative_prompt="jungle")
    assert delta_e(without, against) >= 10 and mean_lab(against)[1] > mean_lab(without)[1]  # less green: higher a*


def test_compel_down_weight_shows_and_up_weight_does_not_undo_the_word(sd15):
    from compel import Compel

    from tools.twin_words import mean_lab

    compel = Compel(tokenizer=sd15.tokenizer, text_encoder=sd15.text_encoder)
    green = [-mean_lab(_t2i(sd15, prompt_embeds=compel(f"a photo of an astronaut in a {w}")))[1]
             for w in ("jungle--", "jungle", "jungle++")]
    # `--` must show (a path that dropped compel's weights would give three equal tiles); `++` barely moves the twins,
    # whose text pooling normalises each token's vector (docs/twins.md), but must not undo what the word does
    assert green[0] + 1 < green[1] < green[2] + 0.5, green


def test_the_refiner_and_inpainting_know_the_words(astronaut):
    import torch
    from diffusers import AutoPipelineForImage2Image, AutoPipelineForInpainting

    from tools.twin_words import delta_e

    start = astronaut.resize((WORD_SIZE, WORD_SIZE))
    refiner = AutoPipelineForImage2Image.from_pretrained("stabilityai/stable-diffusion-xl-refiner-1.0")
    refiner.set_progress_bar_config(disable=True)
    pictures = [refiner(p, image=start, strength=0.5, num_inference_steps=WORD_STEPS,
                        generator=torch.Generator().manual_seed(11)).images[0]
                for p in ("a photo", "a photo, night", "a photo, zebra")]
    assert delta_e(*pictures[:2]) >= 20
    # its pooled prompt moves with the end token's place; the pooled weights halved keep that under 5 (scale_pooled)
    assert delta_e(pictures[0], pictures[2]) < 5
    inpaint = AutoPipelineForInpainting.from_pretrained("stable-diffusion-v1-5/stable-diffusion-inpainting")
    inpaint.set_progress_bar_config(disable=True)
    mask = load_chapter_image("inpaint_mask", size=(WORD_SIZE, WORD_SIZE), offline=True).convert("L")
    cat = load_chapter_image("inpaint", size=(WORD_SIZE, WORD_SIZE), offline=True)
    pictures = [inpaint(p, image=cat, mask_image=mask, num_inference_steps=WORD_STEPS,
                        generator=torch.Generator().manual_seed(11)).images[0] for p in ("a photo", "a photo, castle")]
    assert delta_e(*pictures, mask) >= 20


def test_each_learned_word_has_its_tokens_rows(sd15):
    from helpers.twins.parts import WORD_TOKENS
    from tools.twin_words import WORDS

    ids = {i for w in WORDS for i in sd15.tokenizer(w.text, add_special_tokens=False).input_ids}
    assert ids == set(WORD_TOKENS.values())  # a word whose token has no row would be an unknown word to the twins
    rows = sd15.text_encoder.get_input_embeddings().weight
    assert all(rows[i].abs().sum() > 0 for i in ids) and rows[sd15.tokenizer("zebra").input_ids[1]].abs().sum() == 0
