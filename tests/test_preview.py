"""The step preview: its estimate is the scheduler's own x_0, it shows the picture, its captions count steps right."""

import contextlib
import io

import pytest
import torch
from PIL import Image

from helpers.compare import psnr
from helpers.preview import StepPreview
from helpers.preview_decode import preview_decoder

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
KW = {"height": 128, "width": 128}


@pytest.fixture(scope="module")
def pipes():
    from diffusers import StableDiffusionImg2ImgPipeline, StableDiffusionPipeline

    from helpers.loading import load_args

    with contextlib.redirect_stdout(io.StringIO()):
        t2i = StableDiffusionPipeline.from_pretrained(SD, **load_args(SD))
    t2i.set_progress_bar_config(disable=True)
    img2img = StableDiffusionImg2ImgPipeline(**t2i.components)
    img2img.set_progress_bar_config(disable=True)
    return {"t2i": t2i, "img2img": img2img}


def photo(size=128):
    from skimage import data

    return Image.fromarray(data.astronaut()).resize((size, size))


@pytest.mark.parametrize("scheduler", ["DDIMScheduler", "EulerDiscreteScheduler"])
def test_the_estimate_is_the_schedulers_own_pred_original_sample(pipes, scheduler):
    import diffusers

    pipe = pipes["t2i"]
    original = pipe.scheduler
    pipe.scheduler = getattr(diffusers, scheduler).from_config(original.config)
    theirs, ours = [], []
    step = pipe.scheduler.step

    def keep(*args, **kwargs):
        out = step(*args, **kwargs)
        theirs.append(out[1] if isinstance(out, tuple) else out.pred_original_sample)
        return out

    pipe.scheduler.step = keep
    try:
        with StepPreview(pipe) as preview:
            estimate = preview._estimate
            preview._estimate = lambda *a: ours.append(estimate(*a)) or ours[-1]
            pipe("a cat in a jungle", num_inference_steps=5, generator=torch.Generator().manual_seed(1),
                 callback_on_step_end=preview, **KW)
    finally:
        pipe.scheduler = original
    assert len(ours) == len(theirs) == 5
    assert max(float((a - b).abs().max()) for a, b in zip(ours, theirs, strict=True)) < 1e-3


def test_the_last_frame_shows_the_finished_picture_not_noise(pipes):
    with StepPreview(pipes["t2i"]) as preview:
        out = pipes["t2i"]("a cat in a jungle", num_inference_steps=8, generator=torch.Generator().manual_seed(2),
                           callback_on_step_end=preview, **KW)
    final = out.images[0]
    assert preview.note == "preview decoded by madebyollin/taesd"
    assert psnr(preview.frames[-1].estimate, final) >= 20  # the picture, decoded cheaply
    assert psnr(preview.frames[0].noisy, final) < psnr(preview.frames[-1].estimate, final) - 8  # noise first
    assert [f.step for f in preview.frames] == list(range(len(preview.frames)))
    assert max(preview.frames[-1].estimate.size) <= preview.size


def test_img2img_starts_from_the_noised_picture_and_counts_steps_as_diffusers_does(pipes):
    start = photo()
    near, far = {}, {}
    for strength, keep in ((0.3, near), (0.8, far)):
        with StepPreview(pipes["img2img"]) as preview:
            pipes["img2img"]("a cat", image=start, strength=strength, num_inference_steps=20,
                             generator=torch.Generator().manual_seed(3), callback_on_step_end=preview)
        keep.update(frame=preview.frames[0], calls=len(preview.frames) - 1)
    # PNDM lists 21 timesteps for 20 steps (one twice); strength 0.8 counts int(20 × 0.8) = 16 steps, and diffusers
    # runs the last 17 of the list, from the 4th distinct timestep on
    assert "step 4 of 20; 16 steps to run (17 UNet calls: PNDMScheduler lists 21 timesteps" in far["frame"].caption
    assert far["calls"] == 17 and near["calls"] == 7
    assert psnr(near["frame"].noisy, start) > psnr(far["frame"].noisy, start) + 3


def test_memory_stays_bounded_and_the_run_stays_covered(pipes):
    with StepPreview(pipes["t2i"], cap=5) as preview:
        pipes["t2i"]("a cat", num_inference_steps=12, callback_on_step_end=preview, **KW)
    steps = [f.step for f in preview.frames]
    assert len(steps) <= 6 and preview.thinned and steps[0] == 0 and steps[-1] == 13  # PNDM: 13 UNet calls
    with pytest.raises(ValueError, match="cap=1"):
        StepPreview(pipes["t2i"], cap=1)


def test_without_the_tiny_autoencoder_a_linear_map_of_the_pipelines_vae_decodes(pipes, monkeypatch):
    from helpers import preview_decode

    monkeypatch.setitem(preview_decode._TINY_LOADED, "madebyollin/taesd", None)  # offline, never downloaded
    with StepPreview(pipes["t2i"]) as preview:
        out = pipes["t2i"]("a cat", num_inference_steps=6, generator=torch.Generator().manual_seed(4),
                           callback_on_step_end=preview, **KW)
    assert "linear map" in preview.note
    assert psnr(preview.frames[-1].estimate, out.images[0]) >= 15


def test_a_pipeline_without_an_sd_vae_says_the_preview_is_off():
    class Kandinsky:
        movq = object()

    decode, note = preview_decoder(Kandinsky())
    assert decode is None and "Kandinsky 2.2" in note and "finished picture still shows" in note


def test_a_batch_previews_its_first_picture_in_both_views(pipes):
    with StepPreview(pipes["t2i"]) as preview:
        out = pipes["t2i"]("a cat in a jungle", num_inference_steps=6, num_images_per_prompt=2,
                           generator=torch.Generator().manual_seed(5), callback_on_step_end=preview, **KW)
    start, last = preview.frames[0], preview.frames[-1]
    assert start.estimate.tobytes() == start.noisy.tobytes()  # the start: the same noisy latents in both views
    assert psnr(last.estimate, out.images[0]) >= 20 and psnr(last.estimate, out.images[0]) > psnr(
        last.estimate, out.images[1])  # the first picture's, not the second's


def test_a_pipeline_that_decodes_with_a_tiny_autoencoder_previews_with_it(pipes):
    from diffusers import AutoencoderTiny, StableDiffusionPipeline

    from helpers.loading import load_args

    tiny = AutoencoderTiny.from_pretrained("madebyollin/taesd", **load_args("madebyollin/taesd"))
    fast = StableDiffusionPipeline(**{**pipes["t2i"].components, "vae": tiny})  # the speed policy's tiny_vae trick
    fast.set_progress_bar_config(disable=True)
    decode, note = preview_decoder(fast)
    assert decode is not None and note == "preview decoded by the pipeline's own tiny autoencoder"


def test_preview_slips_get_their_own_cause(pipes):
    import pytest as _pytest

    from helpers.painter import MaskPainter

    t2i = pipes["t2i"]
    with _pytest.raises(TypeError, match="pass the pipeline the call goes to"):
        StepPreview(t2i.unet)
    with _pytest.raises(TypeError, match=r"decoder= takes a tiny autoencoder \(AutoencoderTiny\), got AutoencoderKL"):
        StepPreview(t2i, decoder=t2i.vae)
    with _pytest.raises(TypeError, match="on_frame= is called with each new Frame"):
        StepPreview(t2i, on_frame=lambda: None)
    with _pytest.raises(ValueError, match="a whole number of at least 16"):
        StepPreview(t2i, size=96.0)
    with StepPreview(t2i) as preview:
        pass
    t2i("a cat", num_inference_steps=2, callback_on_step_end=preview, **KW)  # after the with block: no hook
    with _pytest.raises(ValueError, match="hook came off the UNet when its `with` block ended"):
        preview.timeline()
    from helpers import explain

    explain.enable()  # the call checks, as a chapter's second cell turns them on
    try:
        with _pytest.raises(TypeError, match=r"the class StepPreview.*preview = StepPreview\(pipeline\)"):
            t2i("a cat", num_inference_steps=2, callback_on_step_end=StepPreview, **KW)
        painter = MaskPainter(Image.new("RGB", (128, 128)))
        with _pytest.raises(TypeError, match=r"image= is the MaskPainter widget.*image=painter.image"):
            pipes["img2img"]("a cat", image=painter, num_inference_steps=2)
    finally:
        explain.disable()
    other = type(t2i)(**pipes["img2img"].components)  # the same UNet: fine; another pipeline's UNet: refused
    other.set_progress_bar_config(disable=True)
    with StepPreview(other) as mine:
        other("a cat", num_inference_steps=2, callback_on_step_end=mine, **KW)
    assert len(mine.frames) == 4


def test_frames_and_painters_used_as_pictures_say_how(pipes):
    import pytest as _pytest
    import traitlets

    from helpers.compare import greenness
    from helpers.grid import captioned_grid
    from helpers.painter import MaskPainter

    with StepPreview(pipes["t2i"]) as preview:
        pipes["t2i"]("a cat", num_inference_steps=2, callback_on_step_end=preview, **KW)
    frame = preview.frames[-1]
    assert repr(frame).startswith("Frame(step=3, timestep=") and len(repr(frame)) < 200  # not a tensor dump
    assert frame._repr_png_()[:4] == b"\x89PNG"  # a notebook shows it as its estimate
    with _pytest.raises(TypeError, match=r"a step preview Frame.*frame.estimate for frame in preview.timeline"):
        captioned_grid(preview.timeline())
    with _pytest.raises(TypeError, match=r"greenness takes one picture.*\[greenness\(picture\)"):
        greenness([frame.estimate])
    painter = MaskPainter(Image.new("RGB", (32, 32)))
    with _pytest.raises(traitlets.TraitError, match=r"painter.set_mask\(mask\)"):
        painter.mask_png = Image.new("L", (32, 32))


def test_the_scrubber_and_the_view_refuse_what_they_cannot_show():
    import pytest as _pytest
    import traitlets

    from helpers.panel_preview import VIEWS, StepSlider, ViewButtons

    steps = StepSlider(value=0, min=0, max=0)
    steps.max, steps.value = 20, 20
    with _pytest.raises(traitlets.TraitError, match=r"step 99 is outside .* from 0 \(where the loop starts\) to 20"):
        steps.value = 99
    assert steps.value == 20  # not moved to the nearest end
    steps.max = 5  # a shorter run: the slider follows it
    assert steps.value == 5
    view = ViewButtons(options=[(label, key) for key, label in VIEWS.items()], value="estimate")
    with _pytest.raises(traitlets.TraitError, match=r"view 'noise' is not one of .* 'noisy' \(noisy picture\)"):
        view.value = "noise"
    view.value = "noisy"
    assert view.value == "noisy"
