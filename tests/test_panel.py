"""The try-it-yourself panel, driven the way a learner would: set values, click, read the result."""

import html
import json
import time

import pytest
import torch
from PIL import Image

from helpers.fingerprint import fingerprint
from helpers.panel import Choice, Panel, Slider


@pytest.fixture(scope="module")
def pipe():
    from diffusers import AutoPipelineForImage2Image

    p = AutoPipelineForImage2Image.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5",
                                                   dtype=torch.float32, use_safetensors=True)
    p.set_progress_bar_config(disable=True)
    return p


def strength(value):
    return Slider("strength", value, 0.0, 1.0, step=0.05)


@pytest.fixture
def panel(pipe, tmp_path):
    init = Image.new("RGB", (128, 128), (90, 120, 60))
    return Panel(pipe, prompt="Astronaut in a jungle", guidance_scale=7.5, num_inference_steps=4,
                 extras=[strength(0.5)], fixed={"image": init}, save_dir=tmp_path)


def test_click_makes_a_captioned_image_and_keeps_history(panel):
    assert panel.generate(wait=True)
    first = panel.image.value
    assert first and "guidance=7.5" in panel.caption.value and "strength=0.5" in panel.caption.value
    panel.guidance_scale.value = 12.0
    panel.generate_button.click()
    panel.wait()
    assert "guidance=12.0" in panel.caption.value
    assert panel.image.value != first
    assert len(panel.results) == 2 and len(panel.history.children) == 1
    assert "guidance=7.5" in panel.history.children[0].children[1].value


def test_same_seed_same_fingerprint_new_seed_new_picture(panel):
    panel.generate(wait=True)
    a = fingerprint(panel.results[0].image)
    panel.generate(wait=True)
    assert fingerprint(panel.results[0].image) == a
    panel.seed.value = 7
    panel.generate(wait=True)
    assert panel.results[0].image.tobytes() != panel.results[1].image.tobytes()


def test_an_error_is_shown_in_the_panel_and_history_survives(panel):
    panel.generate(wait=True)
    panel.controls["strength"].value = 0.1  # 4 steps × 0.1 leaves no step to run
    with pytest.raises(ValueError):  # from code, the error reaches the caller too
        panel.generate(wait=True)
    assert "ValueError" in panel.status.value and "num_inference_steps" in panel.status.value
    assert len(panel.results) == 1 and not panel.generate_button.disabled
    panel.controls["strength"].value = 0.5
    panel.generate(wait=True)
    assert "done" in panel.status.value and len(panel.results) == 2


def test_a_double_click_runs_once(panel):
    assert panel._clicked() is True  # what the Generate button calls
    assert panel._clicked() is False  # the button is busy
    panel.wait()
    assert panel.runs == 1 and len(panel.results) == 1


def test_generate_from_code_never_drops_a_run_and_returns_the_picture(panel, tmp_path):
    for seed in (1, 2, 3):  # a learner's loop: each call waits for the run before it
        panel.seed.value = seed
        assert panel.generate() is True
    panel.generate(wait=True)
    assert panel.runs == 4 and [r.params["seed"] for r in panel.results] == [3, 3, 2, 1]
    made = panel.results[0]
    assert made.save(tmp_path / "mine.png") == tmp_path / "mine.png"
    with pytest.raises(FileExistsError, match="exists and is kept.*overwrite=True"):
        made.save(tmp_path / "mine.png")


def test_moving_a_slider_does_not_re_encode_the_prompt(panel):
    calls = []
    inner = panel.encode
    panel.encode = lambda *a: calls.append(a) or inner(*a)
    panel.generate(wait=True)
    panel.guidance_scale.value = 3.0
    panel.seed.value = 3
    panel.generate(wait=True)
    assert len(calls) == 1
    panel.prompt.value = "a cat"
    panel.generate(wait=True)
    assert len(calls) == 2


def test_the_prompt_is_encoded_inside_the_run_lock(panel):
    from helpers import pipelock

    held = []
    inner = panel.encode
    panel.encode = lambda *a: held.append(pipelock._RUN._is_owned()) or inner(*a)
    panel.generate(wait=True)
    assert held == [True]  # a tokenizer call during another run would reset that run's padding settings


def test_live_mode_runs_on_slider_release(panel):
    panel.live.value = True
    panel.guidance_scale.value = 4.0
    panel.wait()
    assert panel.runs == 1 and "guidance=4.0" in panel.caption.value


def test_stop_interrupts_and_keeps_the_last_picture(pipe, tmp_path):
    slow = Panel(pipe, prompt="x", num_inference_steps=100, extras=[strength(1.0)],
                 fixed={"image": Image.new("RGB", (128, 128))}, save_dir=tmp_path)
    slow.generate()
    time.sleep(0.3)
    slow.stop()
    slow.wait()
    assert "stopped" in slow.status.value and slow.results == []
    assert not pipe._interrupt  # the pipeline is usable again
    slow.num_inference_steps.value = 2
    slow.generate(wait=True)
    assert len(slow.results) == 1


def test_save_writes_png_with_parameters(panel):
    with pytest.raises(RuntimeError, match="Generate first"):
        panel.save()
    panel.generate(wait=True)
    path = panel.save()
    meta = json.loads(Image.open(path).text["parameters"])
    assert meta["guidance_scale"] == 7.5 and meta["seed"] == 0 and meta["pipeline"] == "StableDiffusionImg2ImgPipeline"
    assert f"saved {path.resolve()}" in panel.status.value  # the full path, folder included: where to find it
    assert panel.steps.frames  # scrubbed back to the start: the status says the finished picture was saved
    panel.steps.scrubber.value = 0
    panel.save()
    assert "the finished picture, not step 0 that the step slider shows" in panel.status.value


def test_a_build_folder_that_is_a_file_is_named_in_the_panel(panel, tmp_path, monkeypatch):
    (tmp_path / "notes").write_text("mine")
    monkeypatch.setenv("TUTORIAL_BUILD", str(tmp_path / "notes"))
    panel.save_dir = None
    panel.generate(wait=True)
    panel._save_clicked()  # what the Save PNG button does
    assert "TUTORIAL_BUILD" in panel.status.value and "must name a folder" in panel.status.value
    assert "Free some space" not in panel.status.value  # not a disk problem: no advice that points the wrong way
    assert (tmp_path / "notes").read_text() == "mine"


def test_save_without_a_folder_goes_to_build_panel(pipe, tmp_path, monkeypatch):
    monkeypatch.setenv("TUTORIAL_BUILD", str(tmp_path / "out"))
    init = Image.new("RGB", (128, 128), (120, 80, 40))
    panel = Panel(pipe, prompt="a photo", num_inference_steps=2, extras=[strength(0.5)], fixed={"image": init})
    panel.generate(wait=True)
    path = panel.save()
    assert path.parent == (tmp_path / "out" / "panel").resolve() and path.is_file()
    assert str(path) in panel.status.value


def test_saves_in_the_same_second_never_overwrite(panel, monkeypatch):
    import helpers.panel

    monkeypatch.setattr(helpers.panel.time, "strftime", lambda fmt: "20250101-120000")  # all in one second
    saved = []
    for guidance in (7.5, 3.0, 12.0):  # three different pictures, same seed
        panel.guidance_scale.value = guidance
        panel.generate(wait=True)
        saved.append((panel.save(), panel.results[0].image.tobytes(), guidance))
    assert [p.name for p, _, _ in saved] == ["20250101-120000-seed0.png", "20250101-120000-seed0-2.png",
                                             "20250101-120000-seed0-3.png"]
    assert len({pixels for _, pixels, _ in saved}) == 3
    for path, pixels, guidance in saved:  # each file still holds the picture it was saved from
        with Image.open(path) as img:
            assert img.convert("RGB").tobytes() == pixels
            assert json.loads(img.text["parameters"])["guidance_scale"] == guidance


def test_save_to_an_existing_path_refuses_unless_told(panel, tmp_path):
    panel.generate(wait=True)
    target = tmp_path / "mine.png"
    target.write_bytes(b"the learner's earlier picture")
    with pytest.raises(FileExistsError, match="overwrite=True") as info:
        panel.save(path=target)
    assert str(target) in str(info.value)
    assert target.read_bytes() == b"the learner's earlier picture"
    assert panel.save(path=target, overwrite=True) == target
    with Image.open(target) as img:
        assert img.convert("RGB").tobytes() == panel.results[0].image.tobytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mine.png"]  # no temporary file left


def test_a_failing_save_button_shows_the_error_and_keeps_the_results(panel, tmp_path, monkeypatch):
    panel.generate(wait=True)
    shown, results = panel.image.value, list(panel.results)

    def disk_full(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Image.Image, "save", disk_full)
    panel.save_button.click()
    assert "color:#b00" in panel.status.value and "No space left on device" in panel.status.value
    assert "save_dir" in panel.status.value  # ... and how to fix it
    assert panel.results == results and panel.image.value == shown
    assert list(tmp_path.iterdir()) == []  # no empty or partial PNG left behind
    with pytest.raises(OSError, match="No space"):  # called from code, save() still raises
        panel.save()


class ControlNetLike:
    """Takes the arguments a ControlNet img2img pipeline takes; the panel checks only the signature."""

    def __call__(self, prompt=None, image=None, control_image=None, strength=0.8, num_inference_steps=50,
                 guidance_scale=7.5, controlnet_conditioning_scale=1.0, generator=None):
        raise AssertionError("not run in these tests")


PICTURES = {"image": Image.new("RGB", (64, 64)), "control_image": Image.new("RGB", (64, 64))}


def chapter4_panel(**start):
    """A panel with chapter 4's own controls; `start` overrides any control's starting value."""
    extras = [Slider("strength", start.pop("strength", 0.5), 0.0, 1.0, step=0.05),
              Slider("controlnet_conditioning_scale", start.pop("controlnet_conditioning_scale", 1.0), 0.0, 2.0,
                     step=0.05, label="control"),
              Slider("weight", start.pop("weight", 1.0), 0.0, 2.0, step=0.1, pipeline_arg=False)]
    return Panel(ControlNetLike(), prompt="x", extras=extras, fixed=PICTURES, **start)


@pytest.mark.parametrize("name, value", [("seed", 5000), ("guidance_scale", 25.0), ("num_inference_steps", 150),
                                         ("controlnet_conditioning_scale", 2.5), ("weight", 3.0)])
def test_a_large_valid_start_widens_its_slider(name, value, capsys):
    p = chapter4_panel(**{name: value})
    slider = p.controls[name]
    assert slider.value == value and slider.max == value  # shown as given, not clamped
    out = capsys.readouterr().out
    assert f"{name}={value}" in out and "range now goes to" in out and out.count("\n") == 1


@pytest.mark.parametrize("name, value, error", [
    ("strength", 1.5, ValueError), ("strength", -0.1, ValueError), ("strength", float("nan"), ValueError),
    ("strength", float("inf"), ValueError), ("guidance_scale", -1.0, ValueError),
    ("guidance_scale", float("inf"), ValueError), ("guidance_scale", float("nan"), ValueError),
    ("num_inference_steps", 0, ValueError), ("num_inference_steps", 2.5, TypeError),
    ("seed", -1, ValueError), ("seed", 2.5, TypeError),
    ("controlnet_conditioning_scale", float("inf"), ValueError), ("controlnet_conditioning_scale", -0.5, ValueError),
    ("weight", float("nan"), ValueError), ("weight", float("-inf"), ValueError), ("weight", "1.5", TypeError),
])
def test_a_start_no_pipeline_takes_is_refused(name, value, error, capsys):
    with pytest.raises(error, match=name):
        chapter4_panel(**{name: value})
    assert capsys.readouterr().out == ""  # refused, not widened


def test_a_start_above_a_declared_range_widens_it_within_the_pipelines_own_limit(capsys):
    p = Panel(ControlNetLike(), prompt="x", extras=[Slider("strength", 0.9, 0.0, 0.8)], fixed=PICTURES)
    assert p.controls["strength"].max == 0.9 and "range now goes to" in capsys.readouterr().out
    with pytest.raises(ValueError, match="strength=1.5 is outside"):  # the pipeline's own limit still holds
        Slider("strength", 1.5, 0.0, 1.0)


def test_values_in_range_keep_the_usual_sliders(capsys):
    p = chapter4_panel(strength=1.0, guidance_scale=20.0, controlnet_conditioning_scale=0.0)
    assert (p.guidance_scale.max, p.seed.max, p.num_inference_steps.max,
            p.controls["strength"].max) == (20.0, 1000, 100, 1.0)
    assert capsys.readouterr().out == ""


def test_options_the_pipeline_does_not_take_are_refused(pipe):
    with pytest.raises(ValueError, match="controlnet_conditioning_scale"):
        Panel(pipe, prompt="x", extras=[Slider("controlnet_conditioning_scale", 1.0, 0.0, 2.0)])
    with pytest.raises(ValueError, match=r"`weight`.*pipeline_arg=False"):  # encode's control, not declared so
        Panel(pipe, prompt="x", extras=[Slider("weight", 1.0, 0.0, 2.0)])


def test_a_control_the_panel_does_not_know_by_name_points_to_extras():
    with pytest.raises(TypeError, match=r"`strength`.*extras=\[Slider\('strength', 0.5"):
        Panel(ControlNetLike(), prompt="x", strength=0.5)
    with pytest.raises(ValueError, match="guidance_scale is one of the panel's own controls"):
        Slider("guidance_scale", 7.5, 0.0, 20.0)
    with pytest.raises(ValueError, match="twice"):
        Panel(ControlNetLike(), prompt="x", extras=[Slider("strength", 0.5, 0.0, 1.0)] * 2)
    with pytest.raises(ValueError, match=r"mask_image='oval' is not one of its options \['box'\]"):
        Choice("mask_image", {"box": Image.new("L", (8, 8))}, "oval")


class InpaintLike:
    """Records the arguments of each call and returns a plain picture, as a pipeline's output does."""

    def __init__(self):
        self.calls = []

    def __call__(self, prompt=None, image=None, mask_image=None, strength=0.8, num_inference_steps=50,
                 guidance_scale=7.5, prompt_embeds=None, generator=None):
        self.calls.append({"mask_image": mask_image, "strength": strength, "prompt_embeds": prompt_embeds})
        return type("Output", (), {"images": [Image.new("RGB", (16, 16), (len(self.calls), 0, 0))]})()


def test_declared_controls_reach_the_pipeline_or_encode_and_the_caption_in_order(tmp_path):
    init = Image.new("RGB", (16, 16))
    box, oval = Image.new("L", (16, 16)), Image.new("L", (16, 16))
    box.paste(255, (0, 0, 8, 8))
    oval.paste(255, (4, 4, 12, 12))
    encoded = []

    def encode(prompt, negative_prompt, extras):
        encoded.append(extras["weight"])
        return {"prompt_embeds": f"{prompt} @ {extras['weight']}"}

    pipeline = InpaintLike()
    p = Panel(pipeline, prompt="x", num_inference_steps=4, encode=encode, fixed={"image": init}, save_dir=tmp_path,
              extras=[Slider("weight", 1.0, 0.0, 2.0, step=0.1, pipeline_arg=False),
                      Choice("mask_image", {"box": box, "oval": oval}, label="mask"),
                      Slider("strength", 0.5, 0.0, 1.0, step=0.05)])
    p.generate(wait=True)
    assert pipeline.calls[-1]["mask_image"] is box and pipeline.calls[-1]["strength"] == 0.5
    assert "guidance=7.5 · steps=4 · seed=0 · weight=1.0 · mask=box · strength=0.5 · " in p.caption.value
    p.controls["mask_image"].value = "oval"
    p.controls["strength"].value = 0.75
    p.generate(wait=True)
    assert pipeline.calls[-1]["mask_image"] is oval and encoded == [1.0]  # no re-encoding for other controls
    p.controls["weight"].value = 1.5
    p.generate(wait=True)
    assert encoded == [1.0, 1.5] and pipeline.calls[-1]["prompt_embeds"] == "x @ 1.5"
    assert "weight=1.5 · mask=oval · strength=0.75" in p.caption.value
    meta = json.loads(Image.open(p.save()).text["parameters"])
    assert (meta["weight"], meta["mask_image"], meta["strength"]) == (1.5, "oval", 0.75)


def test_sdxl_refiner_prompts_are_encoded_once_too():
    from diffusers import AutoPipelineForImage2Image

    refiner = AutoPipelineForImage2Image.from_pretrained("stabilityai/stable-diffusion-xl-refiner-1.0")
    refiner.set_progress_bar_config(disable=True)
    p = Panel(refiner, prompt="Astronaut", negative_prompt="ugly", extras=[strength(0.5)], num_inference_steps=2,
              fixed={"image": Image.new("RGB", (64, 64))})
    calls = []
    inner = p.encode
    p.encode = lambda *a: calls.append(a) or inner(*a)
    p.generate(wait=True)
    p.guidance_scale.value = 3.0
    p.generate(wait=True)
    assert len(calls) == 1 and len(p.results) == 2, p.status.value


def test_kandinsky_panel_passes_the_text_itself():
    from diffusers import AutoPipelineForImage2Image

    kandinsky = AutoPipelineForImage2Image.from_pretrained("kandinsky-community/kandinsky-2-2-decoder")
    p = Panel(kandinsky, prompt="Astronaut", extras=[strength(0.5)], num_inference_steps=4,
              fixed={"image": Image.new("RGB", (64, 64)), "prior_num_inference_steps": 2})
    assert p.encode is None
    p.generate(wait=True)
    assert len(p.results) == 1, p.status.value


def test_save_refuses_a_name_that_is_not_png_and_makes_the_folder(panel, tmp_path):
    panel.generate(wait=True)
    with pytest.raises(ValueError, match=r"Save writes PNG files.*first.png"):
        panel.save(path=tmp_path / "shots" / "first.jpg")
    saved = panel.save(path=tmp_path / "shots" / "first.png")  # a folder that did not exist yet
    assert saved.is_file()


def test_a_picture_leaving_the_history_unsaved_is_said(pipe, tmp_path):
    panel = Panel(pipe, prompt="x", num_inference_steps=2, extras=[strength(1.0)], history=2,
                  fixed={"image": Image.new("RGB", (64, 64))}, save_dir=tmp_path)
    panel.generate(wait=True)
    panel.save()  # the first picture is kept on disk
    panel.seed.value = 1
    panel.generate(wait=True)
    panel.seed.value = 2
    panel.generate(wait=True)  # the saved seed-0 picture leaves quietly
    assert "left it" not in panel.status.value
    panel.seed.value = 3
    panel.generate(wait=True)  # the unsaved seed-1 picture leaves: say so
    assert "oldest unsaved picture (seed 1) left it" in panel.status.value


# ------------------------------------------------------------------ the panel shows the truth


@pytest.mark.parametrize("name", ["guidance_scale", "num_inference_steps", "seed", "prompt", "generator"])
def test_fixed_may_not_hold_what_a_control_sets(pipe, name):
    with pytest.raises(ValueError, match=rf"fixed= holds `{name}`.*on every run"):
        Panel(pipe, prompt="x", fixed={name: 3})


def test_a_value_set_from_python_beyond_a_sliders_end_widens_it_and_says_so(panel):
    from traitlets import TraitError

    panel.guidance_scale.value = 50.0  # beyond the slider's 20: used as given, not clamped to 20
    assert panel.guidance_scale.value == 50.0 and panel.guidance_scale.max == 50.0
    assert "guidance_scale=50.0 is above the slider's end: its range now goes to 50.0" in html.unescape(
        panel.status.value)
    with pytest.raises(TraitError, match=r"num_inference_steps=0 is below the slider's lowest value 1"):
        panel.num_inference_steps.value = 0
    assert panel.num_inference_steps.value == 4  # refused: the value on screen is still the one that runs


def test_save_right_after_generate_saves_that_runs_picture(panel):
    assert panel.generate()  # no wait=True, as a learner types it
    path = panel.save()
    assert path.is_file() and len(panel.results) == 1 and panel.results[0].saved


def test_every_picture_of_a_call_is_shown_and_kept(pipe, tmp_path):
    init = Image.new("RGB", (128, 128), (90, 120, 60))
    panel = Panel(pipe, prompt="x", num_inference_steps=4, extras=[strength(0.5)],
                  fixed={"image": init, "num_images_per_prompt": 2}, save_dir=tmp_path)
    panel.generate(wait=True)
    assert len(panel.results) == 2 and len(panel.history.children) == 1
    assert "picture=1/2" in panel.caption.value and "picture=2/2" in panel.results[1].caption


def _stop_at_first_step(panel, old: bool = False):
    calls = []
    real = panel._on_old_step if old else panel._on_step

    def first_step_stops(*args):
        calls.append(args[-3] if old else args[1])  # the step number
        panel.stop()  # as if Stop were pressed while the first step ran
        return real(*args)

    if old:
        panel._on_old_step = first_step_stops
    else:
        panel._on_step = first_step_stops
    return calls


def test_stop_stops_a_kandinsky_combined_pipeline_too(tmp_path):
    from diffusers import AutoPipelineForImage2Image

    kandinsky = AutoPipelineForImage2Image.from_pretrained("kandinsky-community/kandinsky-2-2-decoder",
                                                           dtype=torch.float32, use_safetensors=True)
    kandinsky.set_progress_bar_config(disable=True)
    panel = Panel(kandinsky, prompt="x", num_inference_steps=20, extras=[strength(0.9)],
                  fixed={"image": Image.new("RGB", (64, 64), (90, 120, 60)), "height": 64, "width": 64},
                  save_dir=tmp_path)
    calls = _stop_at_first_step(panel)
    panel.generate(wait=True)
    assert calls == [0], calls  # one step ran, not all 18 (20 × strength 0.9)
    assert panel.status.value.startswith("stopped after") and not panel.results


def test_live_mode_ends_on_the_values_on_screen(panel):
    panel.live.value = True
    for value in (8.0, 9.0, 10.0):  # three quick changes: the first starts a run, the others queue one more
        panel.guidance_scale.value = value
    deadline = time.time() + 120
    while (panel._busy.locked() or panel._again) and time.time() < deadline:
        time.sleep(0.05)
    panel.wait()
    assert "guidance=10.0" in panel.caption.value and panel.status.value.startswith("done")


def test_a_known_library_error_shows_the_catalogues_fix(panel, monkeypatch):
    class WrongDevice:
        def __call__(self, prompt=None, **kwargs):
            raise RuntimeError("Expected all tensors to be on the same device, but found at least two devices, "
                               "cuda:0 and cpu!")

    monkeypatch.setattr(panel, "pipeline", WrongDevice())
    with pytest.raises(RuntimeError):
        panel.generate(wait=True)
    assert "RuntimeError" in panel.status.value and "make_generator" in panel.status.value


def test_a_bounded_value_is_refused_past_its_bound_not_widened(panel):
    from traitlets import TraitError

    with pytest.raises(TraitError, match=r"strength"):
        panel.controls["strength"].value = 1.5  # strength lives in [0, 1]: no wider slider makes 1.5 work
    assert panel.controls["strength"].value == 0.5 and panel.controls["strength"].max == 1.0


def test_weighting_syntax_in_the_prompt_box_is_said(panel):
    panel.prompt.value = "Astronaut in a jungle++"
    panel.generate(wait=True)
    assert "compel&#x27;s weighting syntax" in panel.status.value


def test_guidance_off_with_a_negative_prompt_is_said_once(panel):
    panel.negative_prompt.value = "blurry"
    panel.guidance_scale.value = 1.0
    panel.generate(wait=True)
    assert panel.status.value.count("⚠") == 1 and "negative_prompt is ignored" in panel.status.value


def test_a_fraction_is_not_rounded_into_a_step_count_and_history_needs_one(panel, pipe):
    from traitlets import TraitError

    with pytest.raises(TraitError, match=r"expected an int, not the float 2.5"):
        panel.num_inference_steps.value = 2.5
    assert panel.num_inference_steps.value == 4
    with pytest.raises(ValueError, match=r"history=0 must be a whole number of at least 1"):
        Panel(pipe, prompt="x", history=0)


def test_a_fractional_argument_declared_with_whole_numbers_stays_a_float_slider(pipe, tmp_path):
    panel = Panel(pipe, prompt="x", extras=[Slider("strength", 1, 0, 1)],
                  fixed={"image": Image.new("RGB", (64, 64))}, save_dir=tmp_path)
    panel.controls["strength"].value = 0.5
    assert panel.controls["strength"].value == 0.5  # an IntSlider would have made it 0


def test_a_chinese_chapter_s_panel_speaks_chinese(pipe, tmp_path):
    from helpers.i18n import set_language

    set_language("zh")  # what use_models(..., lang="zh") does in notebooks/zh/
    try:
        init = Image.new("RGB", (128, 128), (90, 120, 60))
        zh = Panel(pipe, prompt="Astronaut in a jungle", num_inference_steps=2, extras=[strength(0.5)],
                   fixed={"image": init}, save_dir=tmp_path)
        assert (zh.generate_button.description, zh.stop_button.description) == ("生成", "停止")
        assert zh.status.value.startswith("就绪")  # then, where earlier panels hold unsaved pictures, that note
        zh.generate(wait=True)
        assert zh.status.value.startswith("完成，用时 ") and "guidance=" in zh.caption.value  # captions: parameters
    finally:
        set_language("en")


def test_generate_with_wait_hands_back_the_runs_picture_or_its_error(panel):
    result = panel.generate(wait=True)
    assert result is panel.results[0] and result.image.size == (128, 128) and result._repr_png_()[:4] == b"\x89PNG"

    def broken(pipe, step, timestep, kwargs):
        raise ValueError("my callback broke")

    panel.fixed["callback_on_step_end"] = broken
    with pytest.raises(ValueError, match="my callback broke"):
        panel.generate(wait=True)
    assert "my callback broke" in panel.status.value  # the panel says it too, and keeps its pictures
    assert panel.results[0] is result


def test_the_picture_forms_step_by_step_and_the_scrubber_goes_back(pipe, tmp_path):
    from skimage import data

    start = Image.fromarray(data.astronaut()).resize((128, 128))
    panel = Panel(pipe, prompt="Astronaut in a jungle", num_inference_steps=10, extras=[strength(0.8)],
                  fixed={"image": start}, save_dir=tmp_path)
    shown, captions = [], []
    panel.image.observe(lambda change: shown.append(change["new"]), names="value")
    panel.caption.observe(lambda change: captions.append(change["new"]), names="value")
    panel.generate(wait=True)
    frames = panel.steps.frames
    # while the frames form, the caption names the values that make them, not the last picture's
    assert captions[0] == "forming, step by step: guidance=7.5 · steps=10 · seed=0 · strength=0.8"
    assert len(shown) >= 4 and len(frames) == 10  # the start, 9 UNet calls (8 steps; PNDM repeats one)
    assert shown[-1] == panel.image.value and panel.image.value not in shown[:-1]  # the finished picture last
    assert not panel.steps.scrubber.disabled and panel.steps.scrubber.max == 9
    finished = panel.image.value
    panel.steps.scrubber.value = 0
    assert panel.image.value != finished and "start" in panel.steps.caption.value
    # PNDM lists 11 timesteps for 10 steps; strength 0.8 starts at the second distinct one and calls the UNet 9 times
    assert "step 2 of 10; 8 steps to run (9 UNet calls: PNDMScheduler lists 11 timesteps" in panel.steps.caption.value
    assert not pipe.unet._forward_hooks  # the preview's hook is on the UNet only while a run goes
    estimate_start = panel.image.value
    panel.steps.view.value = "noisy"
    panel.steps.scrubber.value = 5
    assert panel.image.value not in (estimate_start, finished) and "step 5/9" in panel.steps.caption.value
    panel.steps.view.value = "estimate"
    panel.steps.scrubber.value = 9
    assert panel.image.value == finished  # the last step's estimate is the finished picture itself


def test_a_stopped_run_keeps_the_last_finished_picture_and_its_frames(pipe, tmp_path):
    panel = Panel(pipe, prompt="x", num_inference_steps=40, extras=[strength(1.0)],
                  fixed={"image": Image.new("RGB", (128, 128), (90, 120, 60))}, save_dir=tmp_path)
    panel.num_inference_steps.value = 2
    panel.generate(wait=True)
    finished = panel.image.value
    panel.num_inference_steps.value = 40
    seen = []

    def slow(pipe_, step, timestep, kwargs):
        seen.append(step)
        if step == 2:
            panel.stop()
        return kwargs

    panel.fixed["callback_on_step_end"] = slow
    assert panel.generate(wait=True) is None  # Stop: no picture
    assert panel.image.value == finished and "stopped" in panel.status.value
    assert 3 <= len(panel.steps.frames) <= 5 and seen[-1] == 2


def test_the_preview_can_be_turned_off(pipe, tmp_path):
    panel = Panel(pipe, prompt="x", num_inference_steps=2, extras=[strength(1.0)],
                  fixed={"image": Image.new("RGB", (128, 128))}, save_dir=tmp_path, preview=False)
    panel.generate(wait=True)
    assert panel.steps.frames == [] and panel.steps.widget.layout.display == "none"


def test_panel_slips_from_a_ninth_probe_get_their_own_cause(pipe, tmp_path):
    from traitlets import TraitError

    from helpers.images import make_mask

    with pytest.raises(ValueError, match=r"If your encode= function reads it.*Slider\('weight', \.\.\., "
                                         r"pipeline_arg=False\)"):
        Panel(pipe, prompt="x", fixed={"image": Image.new("RGB", (64, 64))},
              extras=[Slider("weight", 1.0, 0.0, 2.0)], encode=lambda p, n, e: {})
    from helpers.painter import MaskPainter

    black = Image.new("L", (64, 64), 0)
    with pytest.raises(ValueError, match=r"all black.*lambda: painter.mask"):
        Panel(pipe, prompt="x", fixed={"image": Image.new("RGB", (64, 64)), "mask_image": black})
    unpainted = MaskPainter(Image.new("RGB", (64, 64))).mask  # taken before anything was painted
    with pytest.raises(ValueError, match=r"a MaskPainter's mask from before anything was painted"):
        Panel(pipe, prompt="x", fixed={"image": Image.new("RGB", (64, 64)), "mask_image": unpainted})
    panel = Panel(pipe, prompt="x", fixed={"image": Image.new("RGB", (64, 64))}, save_dir=tmp_path,
                  extras=[Choice("mask_image", {"box": make_mask((64, 64), box=(8, 8, 40, 40)), "oval": black},
                                 pipeline_arg=False)])
    with pytest.raises(TraitError, match=r"no option 'Box'.*Did you mean 'box'\?"):
        panel.controls["mask_image"].value = "Box"
    with pytest.warns(UserWarning, match=r"as it was when the panel was made.*lambda: painter.mask"):
        Panel(pipe, prompt="x", fixed={"image": Image.new("RGB", (64, 64))}, save_dir=tmp_path,
              extras=[Choice("mask_image", {"painted": unpainted}, pipeline_arg=False)])
    with pytest.raises(TypeError, match=r"preview='noisy' turns the step preview on or off"):
        Panel(pipe, prompt="x", fixed={"image": Image.new("RGB", (64, 64))}, preview="noisy")


def test_stop_and_the_preview_reach_a_pipeline_with_only_the_older_callback(tmp_path):
    from diffusers import StableDiffusionUpscalePipeline

    upscaler = StableDiffusionUpscalePipeline.from_pretrained("stabilityai/stable-diffusion-x4-upscaler",
                                                              dtype=torch.float32, use_safetensors=True)
    upscaler.set_progress_bar_config(disable=True)
    start = Image.new("RGB", (32, 32), (90, 120, 60))
    panel = Panel(upscaler, prompt="x", num_inference_steps=30, fixed={"image": start}, save_dir=tmp_path)
    assert "no step preview: the ×4 upscaler" in panel.steps.note  # its guidance stays inside its call
    calls = _stop_at_first_step(panel, old=True)
    assert panel.generate(wait=True) is None
    assert calls == [0] and panel.status.value.startswith("stopped after") and not panel.results
