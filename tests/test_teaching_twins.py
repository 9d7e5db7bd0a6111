"""What the twins teach: each lesson's mechanism shows in their pictures (tools/twin_targets.py).

The default run measures here what no chapter measures: the VAE round trips on three held-out photos, and
img2img's strength sweep for three seeds (at 256 px and 10 steps, 27 runs). The other targets are each asserted
once per run by a chapter's `# NBVAL_CHECK_OUTPUT` verdict, at the same threshold as the targets table:
inpainting's change concentrating inside the mask (ch. 5, 3x), the latent chain keeping its layout (ch. 3,
correlation 0.5) and the upscalers returning their input larger (ch. 3, 18 dB). `python -m tools.twin_targets`
measures every target for the published table, and `--retrain-twins` (tests/retrain) retrains every UNet from the
seeded recipes (about 45 minutes on 2 cores) and checks all targets on the result.
"""

import pytest

from helpers.images import load_chapter_image
from tools import twin_targets as targets


def _failed(rows):
    return "\n".join(str(r) for r in rows if not r.ok)


@pytest.fixture(scope="module")
def astronaut():
    return load_chapter_image("img2img-init", size=(512, 512), offline=True)


def test_vae_round_trips_are_recognisable_at_512():
    rows = targets.vae_rows(targets.held_out(512))
    assert len(rows) == 12 and all(r.ok for r in rows), _failed(rows)


def test_img2img_keeps_less_of_the_start_at_higher_strength(astronaut):
    rows = targets.img2img_rows(astronaut.resize((256, 256)), steps=10)
    assert len(rows) == 9 and all(r.ok for r in rows), _failed(rows)


def test_the_twin_description_counts_the_training_photos():
    from helpers.twins import TWIN_BANNER, WHAT_TWINS_ARE
    from tools.train_twins import HELD_OUT, TRAIN_PHOTOS

    assert f"{len(TRAIN_PHOTOS)} sample photos" in WHAT_TWINS_ARE
    assert f"{len(TRAIN_PHOTOS)} sample photos" in TWIN_BANNER
    assert not set(TRAIN_PHOTOS) & set(HELD_OUT), "a photo that measures the twins must not teach them"


# ---- words (tools/twin_words.py): a prompt path that ignores its input fails here

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


def test_compel_weights_move_the_word_in_order(sd15):
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
                        generator=torch.Generator().manual_seed(11)).images[0] for p in ("a photo", "a photo, night")]
    assert delta_e(*pictures) >= 20
    inpaint = AutoPipelineForInpainting.from_pretrained("stable-diffusion-v1-5/stable-diffusion-inpainting")
    inpaint.set_progress_bar_config(disable=True)
    mask = load_chapter_image("inpaint_mask", size=(WORD_SIZE, WORD_SIZE), offline=True).convert("L")
    cat = load_chapter_image("inpaint", size=(WORD_SIZE, WORD_SIZE), offline=True)
    pictures = [inpaint(p, image=cat, mask_image=mask, num_inference_steps=WORD_STEPS,
                        generator=torch.Generator().manual_seed(11)).images[0] for p in ("a photo", "a photo, castle")]
    assert delta_e(*pictures, mask) >= 20
