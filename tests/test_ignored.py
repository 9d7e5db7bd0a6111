"""helpers.ignored: what a pipeline would ignore or override without a word is said once, before the call runs."""

import re
import warnings

import pytest
import torch

from helpers import explain
from helpers.loading import load_args

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"


def said(pipe, **kwargs) -> tuple[list[str], object]:
    pipe.__dict__.pop("_tutorial_said", None)  # each case on its own: messages are said once per pipeline
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = pipe(num_inference_steps=2, **kwargs)
    return [str(w.message) for w in caught if type(w.message).__name__ == "CallWarning"], out


def test_latents_that_set_another_size_than_height_and_width(t2i):
    words, out = said(t2i, prompt="a cat", latents=torch.randn(1, 4, 16, 16), height=64, width=64)
    assert out.images[0].size == (128, 128)  # what diffusers does: the latents win
    assert any("height=64, width=64 are ignored" in w and "128×128" in w for w in words), words


def test_eta_with_a_scheduler_that_has_none(t2i):
    words, _ = said(t2i, prompt="a cat", eta=0.5, height=64, width=64)
    assert any("eta=0.5 has no effect with PNDMScheduler" in w for w in words), words


@pytest.mark.parametrize(("prompt", "says"), [("a cat++ in a (red hat)1.3", "compel's weighting syntax (cat++)"),
                                              ("a (cat:1.4) in a hat", "A1111's (word:1.5) weighting")])
def test_weighting_syntax_in_a_plain_prompt(t2i, prompt, says):
    words, _ = said(t2i, prompt=prompt, height=64, width=64)
    assert any(says in w for w in words), words


def test_plain_prompts_with_signs_are_left_alone(t2i):
    words, _ = said(t2i, prompt="a well-lit sci-fi city (1990), 8k, 16:9, book cover", height=64, width=64)
    assert not [w for w in words if "weighting" in w], words


def test_negative_embeds_while_guidance_is_off(t2i):
    width = t2i.text_encoder.config.hidden_size
    words, _ = said(t2i, prompt_embeds=torch.randn(1, 77, width), negative_prompt_embeds=torch.randn(1, 77, width),
                    guidance_scale=1.0, height=64, width=64)
    assert any("negative_prompt_embeds are ignored: guidance_scale=1.0" in w for w in words), words


def test_a_scheduler_swapped_in_without_the_models_settings(t2i):
    from diffusers import DDIMScheduler

    original = t2i.scheduler
    try:
        t2i.scheduler = DDIMScheduler()  # the library's own defaults, not the model's
        words, _ = said(t2i, prompt="a cat", height=64, width=64)
        assert any("beta_schedule 'linear' instead of 'scaled_linear'" in w and "from_config" in w for w in words)
        t2i.scheduler = DDIMScheduler.from_config(original.config)  # the book's way: nothing to say
        words, _ = said(t2i, prompt="a cat", height=64, width=64)
        assert not [w for w in words if "pipeline.scheduler" in w], words
    finally:
        t2i.scheduler = original


def test_the_refiner_handed_over_with_denoising_start_is_not_refused_for_its_strength(t2i):
    from diffusers import AutoPipelineForImage2Image

    refiner = AutoPipelineForImage2Image.from_pretrained(REFINER, **load_args(REFINER))
    refiner.set_progress_bar_config(disable=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # 4 steps × the default strength 0.3 would leave none, but denoising_start= sets the start instead
        out = refiner("a cat", image=torch.randn(1, 4, 8, 8), num_inference_steps=4, denoising_start=0.5)
    assert out.images[0].size == (64, 64)


def test_checks_switched_on_before_diffusers_was_imported_still_reach_the_pipeline(t2i):
    from diffusers import StableDiffusionPipeline

    explain.disable()
    explain._STATE["enabled"] = True  # what explain_errors() leaves in a script that has not imported diffusers yet
    try:
        assert not hasattr(StableDiffusionPipeline.__call__, "_tutorial_original")
        load_args(SD)  # the first tutorial call after `import diffusers`
        assert hasattr(StableDiffusionPipeline.__call__, "_tutorial_original")
    finally:
        explain.enable()


def test_a_scheduler_class_instead_of_a_scheduler_is_refused_with_the_fix(t2i):
    from diffusers import DDIMScheduler

    original = t2i.scheduler
    try:
        t2i.scheduler = DDIMScheduler  # the class itself, as a learner types it
        with pytest.raises(TypeError, match=r"the class DDIMScheduler itself.*from_pretrained\(repo_id, subfolder="):
            t2i("a cat", height=64, width=64, num_inference_steps=2)
    finally:
        t2i.scheduler = original


def test_embeddings_passed_as_prompt_are_sent_to_prompt_embeds(t2i):
    with pytest.raises(TypeError, match=r"prompt is a tensor \(1, 77, 32\).*go in prompt_embeds="):
        t2i(prompt=torch.randn(1, 77, 32), height=64, width=64, num_inference_steps=2)


# ------------------------------------------------------------------ schedulers changed behind the call's back


def test_set_timesteps_before_the_call_is_said_and_a_later_call_is_not(t2i):
    from diffusers import KDPM2DiscreteScheduler

    t2i("a cat", height=64, width=64, num_inference_steps=3)
    t2i.scheduler.set_timesteps(5)  # the learner's: the call below (2 steps) sets its own again
    words, _ = said(t2i, prompt="a cat", height=64, width=64)
    assert any("set_timesteps(5) before the call is undone" in w and "num_inference_steps=5" in w for w in words)
    t2i("a cat", height=64, width=64, num_inference_steps=3)
    words, _ = said(t2i, prompt="a cat", height=64, width=64)  # 3 left by the last call, not by the learner
    assert not [w for w in words if "set_timesteps" in w], words
    explain.disable()  # a call with the checks off (chapter 3 makes one) leaves timesteps no record vouches for
    t2i("a cat", height=64, width=64, num_inference_steps=1)
    explain.enable()
    words, _ = said(t2i, prompt="a cat", height=64, width=64)
    assert not [w for w in words if "set_timesteps" in w], words
    original = t2i.scheduler
    try:  # KDPM2 sets all 1000 training steps when it is made: that is not the learner's doing
        t2i.scheduler = KDPM2DiscreteScheduler.from_config(original.config)
        words, _ = said(t2i, prompt="a cat", height=64, width=64)
        assert not [w for w in words if "set_timesteps" in w], words
    finally:
        t2i.scheduler = original


@pytest.mark.parametrize("change", ["config attribute", "from_config override"])
def test_a_changed_noise_schedule_is_said(t2i, change):
    from diffusers import DDIMScheduler

    original = t2i.scheduler
    try:
        if change == "config attribute":  # FrozenDict: the attribute changes, the dict does not, DDIM reads the first
            t2i.scheduler = DDIMScheduler.from_config(original.config)
            t2i.scheduler.config.num_train_timesteps = 500
            expected = "num_train_timesteps 500 instead of 1000"
        else:
            t2i.scheduler = DDIMScheduler.from_config(original.config, clip_sample=True)
            expected = "clip_sample True instead of False"
        words, _ = said(t2i, prompt="a cat", height=64, width=64)
        assert any(expected in w for w in words), words
    finally:
        t2i.scheduler = original


def test_a_flow_matching_scheduler_on_a_noise_model_is_refused(t2i):
    from diffusers import EulerDiscreteScheduler, FlowMatchEulerDiscreteScheduler

    original = t2i.scheduler
    try:
        t2i.scheduler = FlowMatchEulerDiscreteScheduler.from_config(original.config)
        with pytest.raises(TypeError, match=r"FlowMatchEulerDiscreteScheduler, made for flow-matching.*"
                                            r"PNDMScheduler.*EulerDiscreteScheduler.from_pretrained"):
            t2i("a cat", height=64, width=64, num_inference_steps=2)
        t2i.scheduler = EulerDiscreteScheduler.from_config(original.config)  # no clip_sample: nothing to compare
        words, _ = said(t2i, prompt="a cat", height=64, width=64)
        assert not [w for w in words if "pipeline.scheduler" in w], words
    finally:
        t2i.scheduler = original


# ------------------------------------------------------------------ compel's prompts


def test_compel_is_told_about_a1111_syntax_and_its_77_token_cut(t2i):
    from compel import Compel

    explain.wrap_pipelines()  # what the next cell's hook does once compel is imported
    compel = Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder)
    long = ", ".join(["a very detailed astronaut in a green jungle with a red hat"] * 8)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compel("astronaut in a (jungle:1.5)")
        compel("astronaut in a (jungle)1.5, cat++")  # compel's own syntax: nothing to say
        compel(long)
        Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder, truncate_long_prompts=False)(long)
    words = [str(w.message) for w in caught if type(w.message).__name__ == "CallWarning"]
    assert len(words) == 2, words
    assert "A1111's (jungle:1.5)" in words[0] and "(jungle)1.5" in words[0]
    assert re.search(r"this prompt is \d+ tokens.*cuts it at 77.*truncate_long_prompts=False", words[1])
