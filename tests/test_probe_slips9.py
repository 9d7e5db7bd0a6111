"""Slips from the ninth fresh probe: each message names the parameter, the real cause and a fix, and the fix works."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.loading import load_args
from helpers.notes import format_note

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"
X2 = "stabilityai/sd-x2-latent-upscaler"
X4 = "stabilityai/stable-diffusion-x4-upscaler"
KW = {"num_inference_steps": 2, "height": 64, "width": 64}


@pytest.fixture(scope="module")
def pipes():
    from conftest import checked_pipes
    from diffusers import AutoPipelineForImage2Image

    yield from checked_pipes(refiner=lambda t2i: AutoPipelineForImage2Image.from_pretrained(REFINER,
                                                                                            **load_args(REFINER)))


def photo(size=64):
    return Image.new("RGB", (size, size), (120, 90, 60))


def _raised(fn):
    from conftest import raised

    return raised(fn)


def _said(fn) -> str:
    from conftest import said

    return said(fn, only_call_warnings=True)


# ---------------------------------------------------------------- E4, E5, E6: the mask painter


def test_painter_save_keeps_an_existing_file_expands_home_and_writes_png_only(tmp_path, monkeypatch):
    from helpers.images import make_mask
    from helpers.painter import MaskPainter

    photo_path = tmp_path / "my_photo.png"
    photo().save(photo_path)
    painter = MaskPainter(Image.open(photo_path))
    painter.set_mask(make_mask((64, 64), box=(16, 16, 48, 48)))
    with pytest.raises(FileExistsError, match=r"my_photo.png exists and is kept.*my_photo_mask.png.*overwrite=True"):
        painter.save(photo_path)
    assert Image.open(photo_path).mode == "RGB"  # the photo is still the photo
    assert Image.open(painter.save(tmp_path / "my_photo_mask.png")).mode == "L"  # the fix it names
    assert Image.open(painter.save(photo_path, overwrite=True)).mode == "L"
    with pytest.raises(ValueError, match=r"saved as PNG.*end the name with .png"):
        painter.save(tmp_path / "mask.jpg")
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "masks").mkdir()
    assert painter.save("~/masks/mask.png") == tmp_path / "masks" / "mask.png"


def test_painter_on_change_refuses_a_function_that_cannot_take_the_mask():
    from helpers.images import make_mask
    from helpers.painter import MaskPainter

    painter = MaskPainter(photo())
    with pytest.raises(TypeError, match=r"one argument, the new mask, and yours takes \(\).*lambda mask:"):
        painter.on_change(lambda: print("changed"))
    seen = []
    painter.on_change(lambda mask: seen.append(mask.size))  # the fix
    painter.set_mask(make_mask((64, 64), box=(8, 8, 24, 24)))
    assert seen == [(64, 64)]


# ---------------------------------------------------------------- B1, A14: compare helpers


def test_falls_strictly_refuses_a_dict_and_psnr_refuses_a_size_pair():
    from helpers.compare import correlation, falls_strictly, psnr

    kept_db = {0.25: 14.2, 0.5: 10.7, 0.75: 10.3, 1.0: 9.6}
    with pytest.raises(TypeError, match=r"got a dict.*keys \(0.25, 0.5, 0.75, 1.0\).*falls_strictly\(d.values\(\)\)"):
        falls_strictly(kept_db)
    assert falls_strictly(kept_db.values())
    a, b = photo(), Image.new("RGB", (64, 64), (125, 90, 60))
    for helper in (psnr, correlation):
        with pytest.raises(TypeError, match=rf"{helper.__name__}\(..., size=\) is one side in pixels.*size=64"):
            helper(a, b, size=(64, 64))
    assert psnr(a, b, size=64) > 30 and correlation(a, b, size=64) == 0.0  # flat pictures share no layout


# ---------------------------------------------------------------- E3: make_mask's corners


def test_make_mask_says_a_box_is_two_corners_and_gives_the_corners_meant():
    from helpers.images import make_mask

    for shape in ("box", "ellipse"):
        with pytest.raises(ValueError, match=rf"{shape}=\(40, 8, 16, 16\) is \(left, top, right, bottom\): two "
                                             rf"corners in pixels.*the corners are {shape}=\(40, 8, 56, 24\)"):
            make_mask((64, 64), **{shape: (40, 8, 16, 16)})
    ys, xs = np.nonzero(np.asarray(make_mask((64, 64), box=(40, 8, 56, 24))))
    assert (xs.min(), xs.max() + 1, ys.min(), ys.max() + 1) == (40, 56, 8, 24)  # 16 x 16 at (40, 8), as meant


# ---------------------------------------------------------------- M1: the main job's --timeout


def test_run_timeout_is_seconds_and_a_tiny_one_is_a_usage_error(capsys, tmp_path):
    import nbformat

    from tools.run import execute, main

    with pytest.raises(SystemExit) as stopped:
        main(["--timeout", "2", "1"])
    assert stopped.value.code == 2
    said = capsys.readouterr().err
    assert "--timeout: 2 is in seconds per cell" in said and "at least 30" in said and "default is 600" in said
    assert "--timeout 120" in said
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "seconds (not minutes)" in capsys.readouterr().out
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import time; time.sleep(30)")])
    path = tmp_path / "slow.ipynb"
    nbformat.write(notebook, path)
    _, error, _ = execute(path, timeout=1)
    assert "CellTimeoutError" in error and "--timeout 1 allows 1 seconds per cell" in error


# ---------------------------------------------------------------- D5, D17: compel


def test_compel_negative_weight_is_said_and_and_weights_get_a_note(pipes):
    from compel import Compel

    from helpers.compelcheck import check_compel_text

    said = _said(lambda: check_compel_text(None, "Astronaut in a (jungle)-0.5, cold color palette"))
    assert "compel has no negative weight: (jungle)-0.5 reads as (jungle)- (weight 0.9" in said
    assert 'the word "0.5"' in said and "(jungle)0.5" in said and 'negative_prompt_embeds = compel("jungle")' in said
    parsed = Compel.parse_prompt_string("Astronaut in a (jungle)0.5, cold color palette")  # the first fix
    assert "'jungle'@0.5" in str(parsed)
    assert not _said(lambda: check_compel_text(None, "Astronaut in a (jungle)0.5, cold color palette"))

    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    note = format_note(_raised(lambda: compel('("astronaut in a jungle", "cold color palette").and(0.5)')))
    assert "one weight per part" in note and "has 2 parts, and .and(0.5) gives 1 weight" in note
    assert '("astronaut in a jungle", "cold color palette").and(1.0, 0.5)' in note
    assert compel('("astronaut in a jungle", "cold color palette").and(1.0, 0.5)').shape[0] == 1  # the fix
    blend = format_note(_raised(lambda: compel('("a cat", "a dog").blend(0.7)')))
    assert '("a cat", "a dog").blend(0.7, 0.3)' in blend


# ---------------------------------------------------------------- B3, F15, A17: notes from the code that failed


def test_sdxl_encode_prompt_unpacked_into_two_gets_the_four_names(pipes):
    refiner = pipes["refiner"]

    def two():
        pe, ne = refiner.encode_prompt("a cat", device="cpu", do_classifier_free_guidance=True,  # noqa: F841
                                       negative_prompt="ugly")

    note = format_note(_raised(two))
    assert "encode_prompt returns four tensors" in note and "unpacks it into 2" in note
    assert "negative_pooled_prompt_embeds = refiner.encode_prompt(...)" in note
    pe, ne, ppe, npe = refiner.encode_prompt("a cat", device="cpu", do_classifier_free_guidance=True,
                                             negative_prompt="ugly")  # the fix
    out = refiner(prompt_embeds=pe, negative_prompt_embeds=ne, pooled_prompt_embeds=ppe,
                  negative_pooled_prompt_embeds=npe, image=photo(), strength=0.5, num_inference_steps=2)
    assert out.images[0].size == (64, 64)


def test_latents_given_to_pil_composite_get_the_tensor_note(pipes):
    from helpers.images import make_mask

    scene, box = photo(), make_mask((64, 64), box=(16, 16, 48, 48))
    refined = pipes["refiner"]("a castle", image=scene, strength=0.5, num_inference_steps=2,
                               output_type="latent").images
    for call in (lambda: Image.composite(refined, scene, box), lambda: scene.copy().paste(refined),
                 lambda: Image.blend(refined, scene, 0.5)):
        note = format_note(_raised(call))
        assert "takes PIL pictures" in note and "is a tensor of shape (1, 4, 8, 8): latents" in note
        assert "output_type='pil'" in note
    picture = pipes["refiner"]("a castle", image=scene, strength=0.5, num_inference_steps=2).images[0]  # the fix
    assert Image.composite(picture, scene, box).size == (64, 64)


def test_a_hook_with_kwargs_registered_without_with_kwargs_gets_a_note(pipes):
    t2i, batches = pipes["t2i"], []

    def note_batch(module, args, kwargs):
        batches.append(args[0].shape[0])

    def run(**register):
        hook = t2i.unet.register_forward_pre_hook(note_batch, **register)
        try:
            t2i("a cat", output_type="latent", **KW)
        finally:
            hook.remove()

    note = format_note(_raised(run))
    assert "note_batch(module, args, kwargs) asks for the call's keyword arguments" in note
    assert "module.register_forward_pre_hook(note_batch, with_kwargs=True)" in note
    assert "def note_batch(module, args)" in note
    run(with_kwargs=True)  # the fix
    assert batches and set(batches) == {2}  # guided: the unguided half and the prompt's in one batch, each step


# ---------------------------------------------------------------- A3, A13, C6, B7: call checks


def test_guidance_rescale_and_eta_out_of_range(pipes):
    from diffusers import DDIMScheduler

    t2i = pipes["t2i"]
    said = _said(lambda: t2i("a cat", guidance_rescale=7.0, **KW))
    assert "guidance_rescale=7.0 is outside its range, 0–1" in said and "suggests 0.7" in said
    assert "guidance_scale=7.0" in said
    assert "guidance_rescale" not in _said(lambda: t2i("a cat", guidance_rescale=0.7, **KW))
    old = t2i.scheduler
    t2i.scheduler = DDIMScheduler.from_config(old.config)
    try:
        with pytest.raises(ValueError, match=r"eta=2.0 is outside \[0, 1\].*0 is DDIM.*1 is DDPM"):
            t2i("a cat", eta=2.0, **KW)
        picture = np.asarray(t2i("a cat", eta=1.0, **KW).images[0])  # the fix
        assert picture.max() > 0  # not the black picture eta=2 gave
    finally:
        t2i.scheduler = old


def test_numpy_latents_as_image_are_refused_and_the_tensor_works(pipes):
    img2img = pipes["img2img"]
    latents = img2img("a cat", image=photo(), num_inference_steps=2, output_type="latent").images
    with pytest.raises(TypeError, match=r"image is a numpy array shaped \(1, 4, 8, 8\): latents.*torch.from_numpy"):
        img2img("a cat", image=latents.numpy(), num_inference_steps=2)
    out = img2img("a cat", image=torch.from_numpy(latents.numpy()), num_inference_steps=2)  # the fix
    assert out.images[0].size == (64, 64)


def test_a_callback_returning_a_misspelt_key_is_said_once(pipes):
    from helpers.compare import psnr

    refiner = pipes["refiner"]

    def run(key):
        def wipe(pipe, step, timestep, callback_kwargs):
            return {key: callback_kwargs["latents"] * 0.0}

        return refiner("a cat", image=photo(), strength=0.5, num_inference_steps=2, callback_on_step_end=wipe,
                       generator=torch.Generator().manual_seed(0)).images[0]

    said = _said(lambda: run("latent"))
    assert said.count("callback_on_step_end returned 'latent'") == 1  # once, not at each step
    assert "never reads" in said and "Did you mean 'latents' for 'latent'?" in said and "['latents']" in said
    plain = refiner("a cat", image=photo(), strength=0.5, num_inference_steps=2,
                    generator=torch.Generator().manual_seed(0)).images[0]
    assert psnr(run("latents"), plain) < 30  # the fix: the change now reaches the picture


# ---------------------------------------------------------------- C4, C7: the upscalers


def test_upscaler_size_and_vae_slips(pipes):
    from diffusers import AutoencoderKL, StableDiffusionLatentUpscalePipeline, StableDiffusionUpscalePipeline

    x2 = StableDiffusionLatentUpscalePipeline.from_pretrained(X2, **load_args(X2))
    x2.set_progress_bar_config(disable=True)
    latents = pipes["img2img"]("a cat", image=photo(), num_inference_steps=2, output_type="latent").images
    with pytest.raises(TypeError) as refused:
        x2("a cat", image=latents, height=128, width=128, num_inference_steps=2)
    text = str(refused.value)
    assert "makes a picture 2 times the size of image=" in text and "pass a 64x64 picture" in text
    assert "latents of a 64x64 picture (8x8 cells)" in text and "resize the picture instead" not in text
    assert x2("a cat", image=latents, num_inference_steps=2).images[0].size == (128, 128)  # the fix, latents
    assert x2("a cat", image=photo(), num_inference_steps=2).images[0].size == (128, 128)  # and a picture

    other = AutoencoderKL.from_pretrained(SD, subfolder="vae", **load_args(SD))  # SD 1.5's, as vae=pipeline.vae
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # diffusers' own, which blames the VAE's config
        x4 = StableDiffusionUpscalePipeline.from_pretrained(X4, **load_args(X4, passed=["vae"]), vae=other)
    x4.set_progress_bar_config(disable=True)
    with pytest.raises(ValueError) as refused:
        x4("a cat", image=photo(32), num_inference_steps=2)
    text = str(refused.value)
    assert "shrinks pictures 8 times" in text and "its own VAE, which shrinks them 4 times" in text
    assert "without vae=" in text and "set this VAE's scaling_factor to 0.08333" in text
    own = StableDiffusionUpscalePipeline.from_pretrained(X4, **load_args(X4))  # the fix
    own.set_progress_bar_config(disable=True)
    assert own("a cat", image=photo(32), num_inference_steps=2).images[0].size == (128, 128)
