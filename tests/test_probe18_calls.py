"""From an eighteenth probe: denoising_start= on a picture, an outpainting canvas at strength < 1, a mask thinner than a
latent cell, an A1111 embedding loaded without token=, a two-vector embedding through compel, a phrase weighted with
word++, and the tiny VAE on the x4 upscaler."""

import pytest
import torch
from conftest import checked_pipes, raised, said
from PIL import Image, ImageDraw, ImageFilter
from test_probe17_calls import _sdxl

START = Image.new("RGB", (64, 64), (120, 80, 40))
PHOTO = Image.effect_noise((64, 64), 60).convert("RGB")  # texture, as a photo has


def _inpaint(t2i):
    from diffusers import StableDiffusionInpaintPipeline

    return StableDiffusionInpaintPipeline(**t2i.components)  # the twin's 4-channel UNet: the mask check is the point


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes(inpaint=_inpaint)


def words(pipe, **kwargs) -> str:
    """The CallWarnings of one small call, each case on its own (messages are said once per pipeline)."""
    pipe.__dict__.pop("_tutorial_said", None)
    sized = {"height": 64, "width": 64} if "mask_image" in kwargs or "image" not in kwargs else {}
    return said(lambda: pipe(**{"prompt": "a", "num_inference_steps": 1, **sized, **kwargs}),
                only_call_warnings=True)


def masked(pipe, **args) -> str:
    """What the mask check alone says of these arguments (the quiet cases need no run)."""
    from helpers.maskcheck import check_masks

    return said(lambda: check_masks(pipe, {"height": 64, "width": 64, **args}))


def test_denoising_start_on_a_picture_is_said_and_on_latents_keeps_its_advice():
    from helpers.ignored import check_ignored

    refiner = _sdxl("StableDiffusionXLImg2ImgPipeline", requires_aesthetics_score=True)

    def told(**args):
        refiner.__dict__.pop("_tutorial_said", None)
        return said(lambda: check_ignored(refiner, args))

    for picture in (START, [START], torch.rand(1, 3, 64, 64)):
        text = told(image=picture, denoising_start=0.8)
        assert "image= is a picture, and with denoising_start=0.8 StableDiffusionXLImg2ImgPipeline adds no noise" \
               in text and "leave denoising_start out and set how much to change with strength=" in text
        assert "run the base with denoising_end=0.8, output_type='latent'" in text
    text = told(image=START, strength=0.3, denoising_start=0.7)  # one message, and no "raise denoising_start"
    assert "strength=0.3 is ignored beside it" in text and "keep strength=0.3" in text
    assert "raise denoising_start" not in text and text.count("strength=0.3 is ignored") == 1
    latents = torch.randn(1, 4, 8, 8)  # the hand-over: quiet, and beside strength= the advice to move the start
    assert not told(image=latents, denoising_start=0.8)
    text = told(image=latents, strength=0.3, denoising_start=0.3)
    assert "raise denoising_start (denoising_start=0.7" in text and "is a picture" not in text
    assert not told(image=START, strength=0.3)


def test_an_outpainting_canvas_at_strength_below_one_is_said(pipes):
    canvas = Image.new("RGB", (64, 64))
    canvas.paste(PHOTO.crop((16, 0, 48, 64)), (16, 0))
    borders = Image.new("L", (64, 64), 255)
    borders.paste(0, (16, 0, 48, 64))
    text = words(pipes["inpaint"], image=canvas, mask_image=borders, strength=0.75, num_inference_steps=4)
    assert "the area mask_image marks is flat black in image=, and strength=0.75 is below 1" in text
    assert "For outpainting or filling a blank area, use strength=1.0" in text
    inpaint = pipes["inpaint"]
    assert "flat" not in masked(inpaint, image=canvas, mask_image=borders, strength=1.0)
    assert "flat" not in masked(inpaint, image=canvas, mask_image=borders)  # SD inpainting's default: 1.0
    filled = canvas.copy()  # the other fix: the canvas filled with a blurred copy of the photo, which has texture
    filled.paste(PHOTO.filter(ImageFilter.GaussianBlur(1)).crop((0, 0, 16, 64)), (0, 0))
    filled.paste(PHOTO.filter(ImageFilter.GaussianBlur(1)).crop((48, 0, 64, 64)), (48, 0))
    assert "flat" not in masked(inpaint, image=filled, mask_image=borders, strength=0.75)
    middle = Image.new("L", (64, 64))
    middle.paste(255, (16, 0, 48, 64))  # a mask over the photo: retouching, quiet
    assert "flat" not in masked(inpaint, image=canvas, mask_image=middle, strength=0.75)
    assert "flat" not in words(pipes["img2img"], image=canvas, strength=0.75, num_inference_steps=4)  # no mask


def test_a_mask_thinner_than_a_latent_cell_is_said(pipes):
    scratch = Image.new("L", (64, 64))
    ImageDraw.Draw(scratch).rectangle((0, 11, 63, 12), fill=255)  # 2 px, between the kept rows 8 and 16
    text = words(pipes["inpaint"], image=PHOTO, mask_image=scratch, strength=1.0)
    assert "mask_image's white strokes are thinner than one latent cell (8×8 pixels)" in text
    assert "none of the 8 cells the strokes touch are marked" in text and "8×8 latent grid" in text
    assert "mask_image.filter(ImageFilter.MaxFilter(9))" in text
    ring = Image.new("L", (64, 64))
    ImageDraw.Draw(ring).ellipse((5, 5, 58, 58), outline=255, width=2)  # a 2 px outline: a few kept rows cross it
    assert "only 4 of the 28 cells" in masked(pipes["inpaint"], image=PHOTO, mask_image=ring)
    wider = Image.new("L", (64, 64))
    ImageDraw.Draw(wider).ellipse((5, 5, 58, 58), outline=255, width=4)  # 4 px: 13 of its 36 cells, quiet
    widened = scratch.filter(ImageFilter.MaxFilter(9))  # the fix given
    band = Image.new("L", (64, 64))
    ImageDraw.Draw(band).rectangle((0, 20, 63, 31), fill=255)  # a 12 px band
    on_a_row = Image.new("L", (64, 64))
    ImageDraw.Draw(on_a_row).rectangle((0, 16, 63, 17), fill=255)  # 2 px on a kept row: every touched cell marked
    for fine in (widened, band, on_a_row, wider):
        assert "thinner" not in masked(pipes["inpaint"], image=PHOTO, mask_image=fine)


def test_the_mask_check_keeps_the_rows_diffusers_keeps(pipes):
    import numpy as np

    from helpers.maskcheck import latent_grid

    processor, rng = pipes["inpaint"].mask_processor, np.random.default_rng(0)
    for _ in range(3):
        mask = Image.fromarray(((rng.random((48, 64)) > 0.97) * 255).astype(np.uint8))
        tensor = processor.preprocess(mask, height=48, width=64)
        latent = torch.nn.functional.interpolate(tensor, size=(6, 8))  # prepare_mask_latents, diffusers 0.42
        assert np.array_equal(latent[0, 0].numpy() > 0.5, latent_grid(mask, 8) >= 128)
    scratch = Image.new("L", (64, 64))
    ImageDraw.Draw(scratch).rectangle((0, 11, 63, 12), fill=255)
    assert not masked(pipes["inpaint"], mask_image=scratch, image=PHOTO, padding_mask_crop=8)  # the crop grows first


def test_a_two_vector_embedding_through_compel_without_its_manager(pipes, tmp_path):
    from compel import Compel, DiffusersTextualInversionManager
    from safetensors.torch import save_file

    t2i = pipes["t2i"]
    width = t2i.text_encoder.config.hidden_size
    save_file({"<two-vec>": torch.randn(2, width)}, str(tmp_path / "two.safetensors"))
    save_file({"<one-vec>": torch.randn(1, width)}, str(tmp_path / "one.safetensors"))
    t2i.load_textual_inversion(str(tmp_path / "two.safetensors"))
    t2i.load_textual_inversion(str(tmp_path / "one.safetensors"))
    try:
        plain = Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder)
        managed = Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder,
                         textual_inversion_manager=DiffusersTextualInversionManager(t2i))
        text = said(lambda: plain("a castle, <two-vec>"), only_call_warnings=True)
        assert "compel uses only the first of <two-vec>'s 2 vectors" in text
        assert "textual_inversion_manager=DiffusersTextualInversionManager(pipeline)" in text
        own, _ = t2i.encode_prompt("a castle, <two-vec>", "cpu", 1, False)
        # the fix gives the pipeline's own embeddings (before any unload_textual_inversion: diffusers 0.42 rebuilds
        # the fast tokenizer then, and its decode, which the manager uses, loses the spaces between words)
        assert torch.allclose(managed("a castle, <two-vec>"), own)
        assert not said(lambda: managed("a castle, <two-vec>"), only_call_warnings=True)
        for fine in ("a castle, <two-vec> <two-vec>_1", "a castle, <one-vec>", "a castle"):
            assert "vectors" not in said(lambda text=fine: plain(text), only_call_warnings=True), fine
    finally:
        t2i.unload_textual_inversion()


def test_an_a1111_embedding_loaded_without_token_is_said(pipes, tmp_path):
    from safetensors.torch import save_file

    from helpers.ignored import check_loaded_tokens

    t2i = pipes["t2i"]
    path = tmp_path / "my_style.safetensors"
    save_file({"emb_params": torch.randn(1, t2i.text_encoder.config.hidden_size)}, str(path))
    t2i.load_textual_inversion(str(path))
    try:
        text = words(t2i, prompt="a castle, my_style")
        assert "load_textual_inversion added the token 'emb_params': the file is an A1111 embedding" in text
        assert "pipeline.unload_textual_inversion('emb_params'), then pipeline.load_textual_inversion(path, " \
               "token='<name>')" in text
        assert not said(lambda: check_loaded_tokens(t2i, {"prompt": "a castle, emb_params"}))  # written as it is
        t2i.unload_textual_inversion("emb_params")  # the fix given
        t2i.load_textual_inversion(str(path), token="<my-style>")
        assert not said(lambda: check_loaded_tokens(t2i, {"prompt": "a castle, <my-style>"}))
    finally:
        t2i.unload_textual_inversion()


def test_word_plus_plus_after_a_bare_phrase_weights_only_that_word(pipes):
    from compel import Compel

    from helpers.compelcheck import check_compel_text

    compel = Compel(tokenizer=pipes["t2i"].tokenizer, text_encoder=pipes["t2i"].text_encoder)
    text = said(lambda: compel("Astronaut in a jungle, cold color palette++"), only_call_warnings=True)
    assert "in 'cold color palette++' only 'palette' gets ++ (weight 1.21), and 'cold color' stays at 1.0" in text
    assert "bracket it: (cold color palette)++" in text
    assert "(muted colors)--" in said(lambda: check_compel_text(compel, "a fox, muted colors--"))
    for fine in ("Astronaut in a jungle, (cold color palette)++", "Astronaut in a jungle++, cold color palette",
                 "jungle++", "a cat++", "Astronaut in a jungle-, cold", "a sci-fi city, a jungle-lit street",
                 "a castle on a hill++", "astronaut--, jungle"):
        assert "weights only" not in said(lambda t=fine: check_compel_text(compel, t)), fine


def test_the_tiny_vae_is_refused_for_the_x4_upscaler(pipes):
    from types import SimpleNamespace

    from diffusers import StableDiffusionUpscalePipeline

    from helpers.checkpoints import tiny_vae_for
    from helpers.loading import load_args
    from helpers.speed import fit_to_machine

    repo = "stabilityai/stable-diffusion-x4-upscaler"
    x4 = StableDiffusionUpscalePipeline.from_pretrained(repo, **load_args(repo))
    vae = x4.vae
    err = raised(lambda: fit_to_machine(x4, "cpu", tricks=("tiny_vae",), verbose=False))
    assert isinstance(err, ValueError) and "tricks=('tiny_vae',) has no tiny VAE for StableDiffusionUpscalePipeline" \
        in str(err) and "Leave the trick out for this pipeline" in str(err)
    assert x4.vae is vae  # refused before anything changed
    assert tiny_vae_for(pipes["t2i"]) == "madebyollin/taesd"
    sdxl = SimpleNamespace(vae=SimpleNamespace(config=SimpleNamespace(latent_channels=4, scaling_factor=0.13025)))
    assert tiny_vae_for(sdxl) == "madebyollin/taesdxl"
