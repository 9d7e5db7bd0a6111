"""From a twenty-fourth probe: chapter cells that a repeated value, a short tuple or a finer slider broke silently.

Each test runs a chapter cell's own source with cheap stand-ins (no model loads): with the chapter's values it
prints the stored lines; with the learner's edit it works, or stops at once with one readable sentence.
"""

import re
import types

import pytest
import torch
from test_probe22_cells import cell, grey, run, sweep_names
from test_probe23_cells import Grids, control_names, stored

PICTURE = re.compile(r"\d+x\d+ \w+ ahash=\w+ mean=[\d,]+")


def stored_fingerprints(chapter: str, starts: str):
    """The fingerprints the cell printed when last run, in order: a stand-in fingerprint() hands them back."""
    pictures = iter(PICTURE.findall(stored(chapter, starts)))
    return lambda image: next(pictures)


def sweep_pipe(calls):
    """Chapter 1's text-to-image pipeline: a picture further from the unguided one, the stronger the guidance."""
    def pipe(prompt, guidance_scale, **kwargs):
        calls.append(guidance_scale)
        return types.SimpleNamespace(images=[grey(100 + round(4 * (guidance_scale - 1)))])

    return pipe


def test_chapter_1_sweep_refuses_a_guidance_value_typed_twice_before_it_runs():
    source = cell("01_guidance_scale", "sweep_scales = [1.0, 5.0, 12.0]")
    calls = []
    names = {"pipeline": sweep_pipe(calls), "prompt": "p", "device": "cpu", "make_generator": lambda *a: None,
             "captioned_grid": Grids(),
             "fingerprint": stored_fingerprints("01_guidance_scale", "sweep_scales = [1.0, 5.0, 12.0]")}
    assert run(source, names) == stored("01_guidance_scale", "sweep_scales = [1.0, 5.0, 12.0]")
    psnrs, verdict = cell("01_guidance_scale", "from_unguided = {}"), cell("01_guidance_scale", "for every seed:")
    assert run(psnrs + "\n" + verdict, {**names, **sweep_names(names["sweep_scales"])}).endswith("seed: True\n")
    calls.clear()
    for twice in ("[1.0, 5.0, 5.0]", "[1.0, 1.0, 5.0, 12.0]"):  # was a verdict of False, with no word why
        with pytest.raises(ValueError, match=r"sweep_scales has (5|1)\.0 twice: give each guidance value once"):
            run(source.replace("[1.0, 5.0, 12.0]", twice), dict(names))
    assert calls == []  # refused before the first run: no minutes spent on a sweep that cannot pass


class HookedUnet:
    """A UNet stand-in that calls its forward pre-hooks with a batch of 2 under guidance, else 1."""

    def __init__(self):
        self.hooks = []

    def register_forward_pre_hook(self, hook, with_kwargs=False):
        self.hooks.append(hook)
        return types.SimpleNamespace(remove=lambda: self.hooks.remove(hook))

    def pipeline(self, prompt, guidance_scale, num_inference_steps, **kwargs):
        for _ in range(num_inference_steps):
            for hook in self.hooks:
                hook(self, (torch.zeros(2 if guidance_scale > 1 else 1, 4, 8, 8),), {})


def test_chapter_1_prediction_count_is_each_runs_own():
    source = cell("01_guidance_scale", "def note_batch(module, args, kwargs)")
    verdict = cell("01_guidance_scale", "guidance costs a second prediction per step")
    unet = HookedUnet()
    pipe = type("Pipe", (), {"unet": unet, "__call__": lambda self, *a, **k: unet.pipeline(*a, **k)})()
    names = {"pipeline": pipe, "prompt": "p", "seed": 0, "device": "cpu", "make_generator": lambda *a: None}
    run(source, names)
    assert names["predictions"] == {1.0: 1, 5.0: 2} and unet.hooks == []  # the hook is off again
    assert run(verdict, names) == stored("01_guidance_scale", "guidance costs a second prediction per step")
    # retyped without a line that empties the list between runs: each count is still the run's own (was 1 and 1)
    run(source.replace("        unet_batches.clear()\n", "").replace("(1.0, 5.0)", "(1.0, 5.0, 1.0, 7.5)"), names)
    assert names["predictions"] == {1.0: 1, 5.0: 2, 7.5: 2} and len(names["unet_batches"]) == 8


def refiner_pipe():
    """Chapter 2's refiner: the leading-spaced Euler timesteps of a strength-cut run, through the step callback."""
    def pipe(*args, **kwargs):
        steps = int(kwargs["num_inference_steps"] * kwargs["strength"])
        for i, t in enumerate(range(50 * steps - 49, 0, -50)):  # 20 steps at 0.2: 151, 101, 51, 1
            kwargs["callback_on_step_end"](pipe, i, t, {})
        return types.SimpleNamespace(images=[grey(100)])

    return pipe


def test_chapter_2_steps_run_count_cannot_carry_over_between_runs():
    starts = "strengths = [0.2, 0.4, 0.6, 0.8, 1.0]"
    source = cell("02_negative_prompt", starts)
    names = {"pipeline": refiner_pipe(), "prompt": "p", "negative_prompt": "n", "seed": 0, "device": "cpu",
             "init_image": grey(100), "make_generator": lambda *a: None, "captioned_grid": Grids(),
             "fingerprint": stored_fingerprints("02_negative_prompt", starts)}
    assert run(source, names) == stored("02_negative_prompt", starts)
    assert names["sweep_captions"][1:3] == ["strength 0.2 · 4 steps", "strength 0.4 · 8 steps"]
    # the learner's strengths, retyped without a line that empties the list, which still holds an earlier run's
    # timesteps: 6 and 10 steps, not 8 and 18
    edited = source.replace("[0.2, 0.4, 0.6, 0.8, 1.0]", "[0.3, 0.5]").replace("timesteps = []\n", "")
    edited = edited.replace("    timesteps.clear()\n", "")
    words = run(edited, {**names, "timesteps": [951, 901], "fingerprint": lambda image: "fp"})
    assert "strength=0.3  steps run= 6 (int(20 x 0.3) =  6)  first timestep=251  fp" in words
    assert "strength=0.5  steps run=10 (int(20 x 0.5) = 10)  first timestep=451  fp" in words


def test_chapter_3_crop_region_of_three_numbers_is_refused_in_words():
    starts = "region = (0.25, 0.15, 0.625, 0.525)"
    source = cell("03_chaining_pipelines", starts)
    stages = [grey(100).resize((side, side)) for side in (256, 256, 512, 896)]
    names = {"stages": stages, "true_size_row": lambda *a, **k: None}
    assert run(source, dict(names)) == stored("03_chaining_pipelines", starts)
    for short, n in (("(0.25, 0.15, 0.625)", 3), ("(0.25, 0.15, 0.625, 0.525, 1.0)", 5)):  # was an IndexError
        with pytest.raises(ValueError, match=rf"^region needs four fractions \(left, top, right, bottom\), got {n}$"):
            run(source.replace("(0.25, 0.15, 0.625, 0.525)", short), dict(names))
    assert run(source.replace("(0.25, 0.15, 0.625, 0.525)", "[0.25, 0.15, 0.625, 0.525]"), dict(names)) == stored(
        "03_chaining_pipelines", starts)  # a list of four: the same crops


def test_chapter_4_panel_weight_reaches_compel_at_any_slider_step():
    from compel import Compel

    from helpers.checks import warn_call

    source = cell("04_controlling_generation", "def encode(prompt, negative_prompt, params)")
    source = "def encode" + source.split("def encode")[1].split("panel = Panel(")[0]
    seen = []
    names = {"re": re, "warn_call": warn_call,
             "compel": type("C", (), {"__call__": lambda self, text: seen.append(text) or text,
                                      "pad_conditioning_tensors_to_same_length": lambda self, pair: pair})()}
    run(source, names)
    prompt = "Astronaut in a jungle, cold color palette"
    weights = {}
    for k in (0, 1, 20, 21, 23, 30, 40):  # values of a 0-2 slider with step=0.05, as the widget makes them
        value = 0.0 + k * 0.05
        names["encode"](prompt, "", {"weight": value})
        fragments = Compel.parse_prompt_string(seen[-2]).prompts[0].children
        weights[round(value, 2)] = [f.weight for f in fragments if f.text == "jungle"] or [1.0]  # 1: merged in
    assert all(weights[w] == [pytest.approx(w)] for w in weights)  # 1.05 and 1.15 no longer both (jungle)1.1
    names["encode"](prompt, "", {"weight": 1.0})  # the panel's default: the same prompt compel read before
    assert str(Compel.parse_prompt_string(seen[-2])) == str(Compel.parse_prompt_string(
        "Astronaut in a (jungle)1.0, cold color palette"))


def test_chapter_4_by_hand_sum_takes_a_one_word_prompt_in_words():
    source = cell("04_controlling_generation", '# the weight of "astronaut--", read off').split("tokenizer, text")[0]
    prompt = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"
    run(source, {"prompt": prompt, "weighted_prompts": {"astronaut--": "Astronaut-- " + prompt.split(" ", 1)[1]}})
    with pytest.raises(ValueError, match=re.escape("restore weighted_prompts['astronaut--'] = 'Astronaut-- '")):
        run(source, {"prompt": "Astronaut", "weighted_prompts": {"astronaut--": "Astronaut-- in a jungle"}})


def test_chapter_4_controlnet_verdict_refuses_zero_alone():
    loop = cell("04_controlling_generation", "compared = (default_scale, 0.0)")
    verdict = cell("04_controlling_generation", "more closely than without the")
    names = control_names(Grids())
    run(loop, names)
    assert run(verdict, names) == stored("04_controlling_generation", "more closely than without the")
    for alone in ("(0.0,)", "(0.0, 0.0)"):  # was "... than without the ControlNet: True", with no ControlNet run
        names = control_names(Grids())
        run(loop.replace("(default_scale, 0.0)", alone), names)
        with pytest.raises(ValueError, match=r"add a ControlNet scale, such as default_scale, to compare with 0.0"):
            run(verdict, names)
