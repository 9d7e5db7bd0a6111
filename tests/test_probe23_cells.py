"""From a twenty-third probe: chapter cells follow the lists, tuples and prompts a learner edits above them.

Each test runs a chapter cell's own source with cheap stand-ins for the pipelines (no model loads): with the
chapter's values it prints the stored lines and draws the same grid; with edited values it still works, or says
in one sentence which list to restore.
"""

import json
import re
import types

import pytest
import torch
from PIL import Image
from test_probe22_cells import NOTEBOOKS, cell, grey, run

from helpers.checks import collect_warnings, warn_call
from helpers.compare import falls_strictly
from helpers.grid import captioned_grid


def stored(chapter: str, starts: str) -> str:
    """What the English chapter's cell holding `starts` printed when it was last run (nbval compares it)."""
    cells = [c for c in json.loads((NOTEBOOKS / f"{chapter}.ipynb").read_text("utf-8"))["cells"]
             if c["cell_type"] == "code" and starts in "".join(c["source"])]
    return "".join("".join(o["text"]) for o in cells[0]["outputs"] if o.get("name") == "stdout")


class Grids:
    """captioned_grid as the chapters call it (layout and captions checked), remembering each call's layout."""

    def __init__(self):
        self.calls = []

    def __call__(self, images, captions=None, rows=None, cols=None, **kwargs):
        self.calls.append({"captions": list(captions or []), "rows": rows, "cols": cols})
        return captioned_grid(images, captions=captions, rows=rows, cols=cols, twin=False)


def fake_pipe(level_of=lambda kwargs: 100):
    """A pipeline stand-in: one grey picture per call, its step callback called once per step it would run."""

    def pipe(*args, **kwargs):
        steps = int(kwargs.get("num_inference_steps", 10) * kwargs.get("strength", 1.0))
        for t in range(steps):
            (kwargs.get("callback_on_step_end") or (lambda *a: None))(pipe, t, 999 - t, {})
        return types.SimpleNamespace(images=[grey(level_of(kwargs))])

    return pipe


class FakePreview:
    """StepPreview's stand-in: a start frame and one per UNet call, with a picture for each view."""

    note = "preview"

    def __init__(self, pipeline, frames=12):
        strength = 0.3
        self.frames = [types.SimpleNamespace(step=i, timestep=1000 * strength, noisy=grey(90), estimate=grey(110))
                       for i in range(frames)]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, *args):
        return args[-1]

    def timeline(self, steps=5):
        return self.frames[:steps + 1]


def test_chapter_1_step_preview_gives_each_guidance_value_its_own_row():
    source = cell("01_guidance_scale", "timeline_steps = 10")
    grids = Grids()
    names = {"StepPreview": FakePreview, "pipeline": fake_pipe(), "prompt": "p", "seed": 0, "device": "cpu",
             "make_generator": lambda *a: None, "captioned_grid": grids}
    body = source.replace("from helpers.preview import StepPreview\n", "")
    assert run(body, dict(names)) == stored("01_guidance_scale", "timeline_steps = 10")
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 6)
    run(body.replace("timeline_scales = (1.0, 7.5)", "timeline_scales = (1.0, 3.0, 7.5)"), dict(names))
    layout = grids.calls[-1]
    assert (layout["rows"], layout["cols"]) == (3, 6)
    rows = [layout["captions"][r * 6:(r + 1) * 6] for r in range(3)]
    assert [{c.split(" · ")[0] for c in row} for row in rows] == [{"guidance 1.0"}, {"guidance 3.0"}, {"guidance 7.5"}]


def test_chapter_1_figure_captions_follow_the_scales():
    source = cell("01_guidance_scale", "figures = {")
    grids = Grids()
    names = {"pipeline": fake_pipe(), "prompt": "p", "seed": 0, "steps": 2, "device": "cpu",
             "make_generator": lambda *a: None, "fingerprint": lambda image: "fp", "captioned_grid": grids}
    run(source, dict(names))
    assert grids.calls[-1]["captions"] == ["Fig. 3-41: guidance_scale=3.5", "Fig. 3-42: guidance_scale=5.0",
                                           "Fig. 3-43: guidance_scale=10.0"]
    run(source.replace("scales = [3.5, 5.0, 10.0]", "scales = [10.0, 7.5, 3.5, 5.0]"), dict(names))
    assert grids.calls[-1]["captions"] == ["Fig. 3-43: guidance_scale=10.0", "guidance_scale=7.5",
                                           "Fig. 3-41: guidance_scale=3.5", "Fig. 3-42: guidance_scale=5.0"]


def test_chapter_2_content_grid_has_a_row_per_strength():
    source = cell("02_negative_prompt", "content_strengths = (0.3, 0.75)")
    grids = Grids()
    names = {"pipeline": fake_pipe(), "prompt": "p", "seed": 0, "device": "cpu", "init_image": grey(100),
             "content_steps": 4, "make_generator": lambda *a: None, "fingerprint": lambda image: "fp",
             "captioned_grid": grids}
    run(source, dict(names))
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 2)
    run(source.replace("(0.3, 0.75)", "(0.3, 0.5, 0.75)"), dict(names))
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (3, 2)
    assert grids.calls[-1]["captions"][2:4] == ["strength 0.5, no negative prompt", "strength 0.5, "
                                                "negative_prompt='jungle'"]


def test_chapter_2_strength_sweep_grid_takes_any_number_of_strengths():
    source = cell("02_negative_prompt", "strengths = [0.2, 0.4, 0.6, 0.8, 1.0]")
    grids = Grids()
    names = {"pipeline": fake_pipe(), "prompt": "p", "negative_prompt": "n", "seed": 0, "device": "cpu",
             "init_image": grey(100), "make_generator": lambda *a: None, "fingerprint": lambda image: "fp",
             "captioned_grid": grids}
    words = run(source, dict(names))
    assert "strength=0.4  steps run= 8 (int(20 x 0.4) =  8)" in words
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 3)
    run(source.replace("[0.2, 0.4, 0.6, 0.8, 1.0]", "[0.2, 0.5, 1.0]"), dict(names))  # 4 tiles: 2 x 2
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 2)
    run(source.replace("[0.2, 0.4, 0.6, 0.8, 1.0]", "[0.25, 0.5, 0.75, 1.0]"), dict(names))  # 5 tiles: a row
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (1, 5)


def test_chapter_2_strength_verdict_reads_the_strengths_tried():
    source = cell("02_negative_prompt", "lower strength keeps more of the start image")
    names = {"falls_strictly": falls_strictly}
    default = {0.2: 14.3, 0.4: 11.2, 0.6: 9.4, 0.8: 8.4, 1.0: 7.2}
    assert run(source, {**names, "kept_db": default}) == stored("02_negative_prompt", "lower strength keeps more")
    edited = {0.25: 14.2, 0.5: 10.7, 0.75: 10.3, 1.0: 9.6}  # was a bare KeyError: 0.2
    assert run(source, {**names, "kept_db": edited}).endswith(": True\n")
    assert run(source, {**names, "kept_db": {1.0: 7.2, 0.3: 12.0}}).endswith(": True\n")  # two, in any order
    assert run(source, {**names, "kept_db": {0.2: 9.0, 0.6: 11.0, 1.0: 7.0}}).endswith(": False\n")  # still fails


def test_chapter_2_noisy_start_rows_and_verdict_follow_start_strengths():
    loop = cell("02_negative_prompt", "start_strengths = (0.3, 0.8)").replace("from helpers.preview import "
                                                                                "StepPreview\n", "")
    verdict = cell("02_negative_prompt", "starts closer to the start image than at")
    grids = Grids()
    names = {"StepPreview": FakePreview, "pipeline": fake_pipe(), "prompt": "p", "negative_prompt": "n", "seed": 0,
             "device": "cpu", "init_image": grey(100), "sweep_steps": 20, "make_generator": lambda *a: None,
             "captioned_grid": grids}
    run(loop, names)
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 5)
    assert run(verdict, {"start_db": {0.3: 17.2, 0.8: 11.8}}) == stored("02_negative_prompt", "starts closer to")
    edited = run(verdict, {"start_db": {0.5: 14.0, 0.2: 19.0, 0.9: 10.0}})  # was a bare KeyError: 0.3
    assert edited == "the run at strength 0.2 starts closer to the start image than at 0.9: True\n"
    with pytest.raises(ValueError, match=r"give it two different strengths to compare, such as \(0.3, 0.8\)"):
        run(verdict, {"start_db": {0.5: 14.0}, "start_strengths": (0.5,)})
    run(loop.replace("start_strengths = (0.3, 0.8)", "start_strengths = (0.3, 0.5, 0.8)"), names)
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (3, 5)


def to_picture_source() -> str:
    """Chapter 3's to_picture, alone (its cell also imports and loads the chapter's helpers)."""
    return "@torch.no_grad()" + cell("03_chaining_pipelines", "def to_picture(pipe, latents)").split(
        "@torch.no_grad()")[1]


def test_chapter_3_to_picture_says_pictures_and_kandinsky_latents_apart():
    names = {"torch": torch, "Image": Image}
    run(to_picture_source(), names)
    to_picture = names["to_picture"]
    vae = types.SimpleNamespace(decode=lambda x: types.SimpleNamespace(sample=x),
                                config=types.SimpleNamespace(scaling_factor=0.5))
    sd = types.SimpleNamespace(vae=vae, image_processor=types.SimpleNamespace(
        postprocess=lambda pixels, output_type: [pixels]))
    assert torch.equal(to_picture(sd, torch.ones(1, 4, 8, 8)), torch.full((1, 4, 8, 8), 2.0))  # as before
    for pictures in ([grey(100)], grey(100)):  # .images, or .images[0], of a call without output_type="latent"
        with pytest.raises(TypeError, match="got pictures already: the stage ran without output_type='latent'"):
            to_picture(sd, pictures)
    kandinsky = type("KandinskyV22Img2ImgCombinedPipeline", (), {"movq": object()})()
    with pytest.raises(TypeError, match=r"has no \.vae: Kandinsky 2.2's latents are MoVQ latents.*call it "
                                        r"without output_type='latent'"):
        to_picture(kandinsky, torch.ones(1, 4, 8, 8))
    with pytest.raises(TypeError, match=r"^object has no \.vae\.$"):
        to_picture(object(), torch.ones(1, 4, 8, 8))


def test_chapter_4_by_hand_sum_names_the_prompt_it_redoes():
    source = cell("04_controlling_generation", '# the weight of "astronaut--", read off').split("tokenizer, text")[0]
    prompt = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"
    run(source, {"prompt": prompt, "weighted_prompts": {"astronaut--": "Astronaut-- " + prompt.split(" ", 1)[1]}})
    run(source, {"prompt": "Cat in a jungle", "weighted_prompts": {"astronaut--": "Cat-- in a jungle"}})  # both
    for edited in ({"astronaut--": "Astronaut--- in a jungle, cold color palette, muted colors, detailed, 8k"}, {}):
        with pytest.raises(ValueError, match=re.escape("restore weighted_prompts['astronaut--'] = 'Astronaut-- "
                                                       "in a jungle, cold")):
            run(source, {"prompt": prompt, "weighted_prompts": edited})


def test_chapter_4_weighting_grid_takes_another_prompt():
    source = cell("04_controlling_generation", "the same and() tensor with the unpadded")
    grids = Grids()

    def pipe(**kwargs):
        raise ValueError("prompt_embeds and negative_prompt_embeds differ. More")

    names = {"pipeline": pipe, "compel": lambda text: text, "and_prompt": "a", "negative_prompt_embeds": None,
             "init_image": grey(100), "seed": 0, "captioned_grid": grids}
    five = {name: grey(100 + i) for i, name in enumerate(["plain", "jungle++", "astronaut--", "blend", "and()"])}
    run(source, {**names, "weighted_images": five})
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 3)
    run(source, {**names, "weighted_images": {**five, "cold--": grey(90)}})  # 7 tiles: one row
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (1, 7)


def control_names(grids):
    """Chapter 4's ControlNet cell's names: the result's depth follows control.png more, the larger the scale."""
    def pipe(prompt, controlnet_conditioning_scale, **kwargs):
        return types.SimpleNamespace(images=[grey(100 + round(50 * controlnet_conditioning_scale))])

    return {"pipeline": pipe, "prompt": "p", "init_image": grey(100), "book_depth": grey(0), "steps": 2, "seed": 0,
            "device": "cpu", "default_scale": 0.8, "make_generator": lambda *a: None,
            "depth_estimator": lambda image: {"depth": image}, "fingerprint": lambda image: "fp",
            "correlation": lambda depth, control: round(depth.getpixel((0, 0))[0] / 200, 2), "captioned_grid": grids}


def test_chapter_4_controlnet_comparison_follows_the_scales_compared():
    loop = cell("04_controlling_generation", "compared = (default_scale, 0.0)")
    verdict = cell("04_controlling_generation", "more closely than without the")
    grids = Grids()
    names = control_names(grids)
    run(loop, names)
    assert grids.calls[-1]["captions"] == ["control.png (another scene)", "ControlNet, scale 0.8",
                                           "scale 0: plain img2img", "initial image", "depth of the scale-0.8 result",
                                           "depth of the scale-0 result"]
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 3)
    assert run(verdict, names) == stored("04_controlling_generation", "more closely than without the")
    names = control_names(grids)
    run(loop.replace("compared = (default_scale, 0.0)", "compared = (1.2, default_scale, 0.0)"), names)  # KeyError
    assert grids.calls[-1]["cols"] == 4 and "ControlNet, scale 1.2" in grids.calls[-1]["captions"]
    assert run(verdict, names).endswith("ControlNet: True\n")
    names = control_names(grids)
    run(loop.replace("compared = (default_scale, 0.0)", "compared = (default_scale, 0.4)"), names)
    with pytest.raises(ValueError, match=r"compared is \(0.8, 0.4\): put 0.0 in compared"):
        run(verdict, names)


def test_chapter_4_panel_encode_leaves_the_learners_own_weight_and_says_so():
    source = cell("04_controlling_generation", "def encode(prompt, negative_prompt, params)")
    source = "def encode" + source.split("def encode")[1].split("panel = Panel(")[0]
    seen = []

    class Compel:
        def __call__(self, text):
            seen.append(text)
            return text

        def pad_conditioning_tensors_to_same_length(self, pair):
            return pair

    names = {"re": re, "warn_call": warn_call, "compel": Compel()}
    run(source, names)
    encode = names["encode"]
    with collect_warnings() as said:
        encode("Astronaut in a jungle, cold color palette", "", {"weight": 1.3})
    assert seen[-2] == "Astronaut in a (jungle)1.3, cold color palette" and said == []  # the slider, as before
    for own in ("Astronaut in a jungle++, cold", "Astronaut in a (jungle)1.2, cold", "Astronaut in a jungle-, cold"):
        with collect_warnings() as said:
            encode(own, "", {"weight": 1.5})
        assert seen[-2] == own  # not "(jungle)1.5++": the learner's weight stays
        assert said == ["the prompt weights 'jungle' itself, so the weight slider is not applied; write plain "
                        "'jungle' to use the slider"]


def test_chapter_5_comparison_captions_follow_the_order():
    source = cell("05_inpainting", 'order = ["SD Inpainting", "SDXL Inpainting", "Kandinsky 2.2"]')
    grids = Grids()
    castles = {"SD Inpainting": grey(100), "SDXL Inpainting": grey(110), "Kandinsky 2.2": grey(120)}
    names = {"castles": castles, "references": {name: (grey(100), grey(0).convert("L")) for name in castles},
             "area_differences": lambda *a: (1.0, 30.0), "init_image": grey(100), "prompt": "p", "seed": 92,
             "captioned_grid": grids}
    run(source, dict(names))
    assert grids.calls[-1]["captions"] == ["Fig. 3-53: initial image", "Fig. 3-54: SD Inpainting",
                                           "Fig. 3-55: SDXL Inpainting", "Fig. 3-56: Kandinsky 2.2"]
    run(source.replace('order = ["SD Inpainting", "SDXL Inpainting", "Kandinsky 2.2"]',
                       'order = ["Kandinsky 2.2", "SD Inpainting"]'), dict(names))
    assert grids.calls[-1]["captions"] == ["Fig. 3-53: initial image", "Fig. 3-56: Kandinsky 2.2",
                                           "Fig. 3-54: SD Inpainting"]  # each picture keeps its own figure


def test_chapter_5_strength_captions_follow_the_strengths():
    source = cell("05_inpainting", "inpaint_strengths = (0.5, 0.75, 0.9999)")
    grids = Grids()
    names = {"pipeline": fake_pipe(), "prompt": "p", "seed": 92, "steps": 4, "device": "cpu", "xl_size": 64,
             "xl_image": grey(100), "box_mask": grey(0).convert("L"), "Image": Image,
             "make_generator": lambda *a: None, "fingerprint": lambda image: "fp",
             "area_differences": lambda *a: (1.0, 30.0), "overlay": lambda image, mask: image, "captioned_grid": grids}
    run(source, dict(names))
    assert grids.calls[-1]["captions"] == ["box mask", "strength 0.5", "strength 0.75", "strength 0.9999 (default)"]
    run(source.replace("(0.5, 0.75, 0.9999)", "(0.3, 0.9999)"), dict(names))
    assert grids.calls[-1]["captions"] == ["box mask", "strength 0.3", "strength 0.9999 (default)"]


def test_chapter_5_argument_grid_takes_another_setting():
    source = cell("05_inpainting", '"guidance_scale=1.0 (off)": {"guidance_scale": 1.0}')
    grids = Grids()
    names = {"pipeline": fake_pipe(), "prompt": "p", "seed": 92, "steps": 4, "device": "cpu",
             "init_image": grey(100), "mask_image": grey(0).convert("L"), "make_generator": lambda *a: None,
             "fingerprint": lambda image: "fp", "area_differences": lambda *a: (1.0, 30.0), "captioned_grid": grids}
    run(source, dict(names))
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (2, 2)
    run(source.replace('    "strength=0.6": {"strength": 0.6},\n',
                       '    "strength=0.6": {"strength": 0.6},\n    "strength=0.3": {"strength": 0.3},\n'), dict(names))
    assert (grids.calls[-1]["rows"], grids.calls[-1]["cols"]) == (1, 5)
