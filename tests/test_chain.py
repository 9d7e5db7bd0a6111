"""Tests for helpers/chain.py and for the three chains of chapter 3, run on the twins.

Pipelines are loaded from the twin snapshots' folders, not by repo id, so these tests use the twins whichever
mode the pytest run chose (and never download real weights). diffusers is imported lazily, inside fixtures.
"""

from __future__ import annotations

import pytest
import torch

from helpers.chain import LatentSpace, check_latents_compatible, latent_space, latents_compatible, shared_modules
from helpers.modes import active_mode, snapshot_path
from helpers.twins import ensure_built

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
COMIC = "ogkalu/Comic-Diffusion"
PIXEL = "kohbanye/pixel-art-style"
KANDINSKY = "kandinsky-community/kandinsky-2-2-decoder"
KANDINSKY_PRIOR = "kandinsky-community/kandinsky-2-2-prior"
X2 = "stabilityai/sd-x2-latent-upscaler"
X4 = "stabilityai/stable-diffusion-x4-upscaler"
REFINER = "stabilityai/stable-diffusion-xl-refiner-1.0"
PROMPT = "Astronaut in a jungle"
STEPS = 3  # enough to run every code path; the shapes do not depend on the step count


def twin_path(repo_id: str) -> str:
    """Folder of the twin snapshot of `repo_id` (builds the twin cache on first use)."""
    return str(snapshot_path(repo_id, ensure_built(log=lambda _msg: None)))


def _quiet(pipe):
    pipe.set_progress_bar_config(disable=True)
    return pipe


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator("cpu").manual_seed(seed)


@pytest.fixture(scope="module")
def sd():
    from diffusers import AutoPipelineForImage2Image

    return _quiet(AutoPipelineForImage2Image.from_pretrained(twin_path(SD15)))


@pytest.fixture(scope="module")
def comic(sd):
    from diffusers import AutoPipelineForImage2Image

    return _quiet(AutoPipelineForImage2Image.from_pretrained(
        twin_path(COMIC), vae=sd.vae, safety_checker=sd.safety_checker, feature_extractor=sd.feature_extractor))


@pytest.fixture(scope="module")
def pixel(sd):
    from diffusers import AutoPipelineForImage2Image

    return _quiet(AutoPipelineForImage2Image.from_pretrained(twin_path(PIXEL), vae=sd.vae))


@pytest.fixture(scope="module")
def kandinsky():
    """The combined prior + decoder pipeline AutoPipelineForImage2Image builds, put together from local twins."""
    from diffusers import (
        KandinskyV22Img2ImgCombinedPipeline,
        KandinskyV22Img2ImgPipeline,
        KandinskyV22PriorPipeline,
    )

    decoder = KandinskyV22Img2ImgPipeline.from_pretrained(twin_path(KANDINSKY))
    prior = KandinskyV22PriorPipeline.from_pretrained(twin_path(KANDINSKY_PRIOR))
    return _quiet(KandinskyV22Img2ImgCombinedPipeline(
        **decoder.components, **{f"prior_{name}": module for name, module in prior.components.items()}))


@pytest.fixture(scope="module")
def x2(sd):
    from diffusers import StableDiffusionLatentUpscalePipeline

    return _quiet(StableDiffusionLatentUpscalePipeline.from_pretrained(twin_path(X2), vae=sd.vae))


@pytest.fixture(scope="module")
def x4():
    from diffusers import StableDiffusionUpscalePipeline

    return _quiet(StableDiffusionUpscalePipeline.from_pretrained(twin_path(X4)))


@pytest.fixture(scope="module")
def init_image():
    from PIL import Image

    return Image.new("RGB", (512, 512), (90, 120, 150))


# ---------------------------------------------------------------- latent_space and the checks


def test_latent_space_reads_each_autoencoder(sd, kandinsky, x4):
    assert latent_space(sd) == LatentSpace("vae", "AutoencoderKL", 4, 0.18215, 8)
    assert latent_space(x4) == LatentSpace("vae", "AutoencoderKL", 4, 0.08333, 4)
    # Kandinsky passes movq latents around unscaled, whatever movq's config says
    assert latent_space(kandinsky) == LatentSpace("movq", "VQModel", 4, 1.0, 8)
    assert "AutoencoderKL · 4 latent channels · scaling_factor=0.18215 · 8x downsampling" in str(latent_space(sd))


def test_a_noted_latent_space_stands_in_for_a_freed_pipeline(sd, kandinsky):
    noted = latent_space(sd)
    with pytest.raises(ValueError, match=r"Latents from StableDiffusion\w*Pipeline .*cannot be passed to Kandinsky"):
        check_latents_compatible(noted, kandinsky)
    check_latents_compatible(noted, sd)


def test_latent_space_rejects_non_pipelines():
    with pytest.raises(TypeError, match="no `vae` or `movq`"):
        latent_space(object())


def test_sd_family_is_compatible(sd, comic, pixel, x2):
    for producer, consumer in [(sd, comic), (comic, pixel), (sd, x2)]:
        assert latents_compatible(producer, consumer)
        check_latents_compatible(producer, consumer)  # must not raise


@pytest.mark.parametrize(("producer", "consumer", "parts"), [
    ("sd", "kandinsky", ("StableDiffusionImg2ImgPipeline", "KandinskyV22Img2ImgCombinedPipeline",
                         "vae=AutoencoderKL", "movq=VQModel", "scaling_factor: 0.18215 vs 1")),
    ("x2", "x4", ("StableDiffusionLatentUpscalePipeline", "StableDiffusionUpscalePipeline", "7 input channels",
                  "scaling_factor: 0.18215 vs 0.08333", "vae_scale_factor: 8 vs 4")),
])
def test_incompatible_latents_fail_clearly(request, producer, consumer, parts):
    producer, consumer = request.getfixturevalue(producer), request.getfixturevalue(consumer)
    assert not latents_compatible(producer, consumer)
    with pytest.raises(ValueError) as err:
        check_latents_compatible(producer, consumer)
    message = str(err.value)
    for part in (*parts, "output_type='pil'"):
        assert part in message, part
    assert twin_path(SD15) not in message  # loaded from a folder: the message names no file paths


def test_sd_latents_into_sdxl_refiner_differ_only_in_scaling(sd):
    from diffusers import AutoPipelineForImage2Image

    refiner = AutoPipelineForImage2Image.from_pretrained(twin_path(REFINER))
    with pytest.raises(ValueError) as err:
        check_latents_compatible(sd, refiner)
    reasons = [line for line in str(err.value).splitlines() if line.startswith("  - ")]
    assert reasons == ["  - scaling_factor: 0.18215 vs 0.13025"]


def test_shared_modules_counts_only_identical_objects(sd, comic):
    from diffusers import AutoPipelineForText2Image

    from helpers.speed import pipeline_bytes

    saved = shared_modules(sd, comic)
    assert set(saved) == {"vae", "safety_checker"}  # passed in; the UNet and text encoder are comic's own
    assert all(n > 0 for n in saved.values())
    text = AutoPipelineForText2Image.from_pipe(sd)
    assert sum(shared_modules(sd, text).values()) == pipeline_bytes(text)  # from_pipe shares everything
    with pytest.raises(TypeError, match="components"):
        shared_modules(sd, object())


# ---------------------------------------------------------------- the three chains of chapter 3


def test_chain_text_to_image_to_kandinsky(sd, kandinsky):
    from diffusers import AutoPipelineForText2Image

    text2image = AutoPipelineForText2Image.from_pipe(sd)(PROMPT, num_inference_steps=STEPS, generator=_gen()).images[0]
    assert text2image.size == (512, 512)
    # strength 0.3 of 10 steps runs 3; fewer steps would leave Kandinsky with nothing to run
    out = kandinsky(PROMPT, image=text2image, num_inference_steps=10, prior_num_inference_steps=2,
                    generator=_gen()).images[0]
    assert out.size == (512, 512)


def test_chain_three_img2img_passing_latents(sd, comic, pixel, init_image):
    latents_1 = sd(PROMPT, image=init_image, num_inference_steps=STEPS, output_type="latent",
                   generator=_gen()).images
    assert tuple(latents_1.shape) == (1, 4, 64, 64)  # 512 px / 8, 4 channels
    latents_2 = comic(f"{PROMPT}, charliebo artstyle", image=latents_1, num_inference_steps=STEPS,
                      output_type="latent", generator=_gen()).images
    assert tuple(latents_2.shape) == (1, 4, 64, 64)
    final = pixel(f"{PROMPT}, pixelartstyle", image=latents_2, num_inference_steps=STEPS,
                  generator=_gen()).images[0]
    assert final.size == (512, 512)


def test_chain_img2img_x2_x4(sd, x2, x4, init_image):
    latents_1 = sd(PROMPT, image=init_image, num_inference_steps=STEPS, output_type="latent",
                   generator=_gen()).images
    assert tuple(latents_1.shape) == (1, 4, 64, 64)
    latents_2 = x2(PROMPT, image=latents_1, num_inference_steps=STEPS, output_type="latent",
                   generator=_gen()).images
    assert tuple(latents_2.shape) == (1, 4, 128, 128)  # x2 per side, still SD latents
    with torch.no_grad():
        pixels = x2.vae.decode(latents_2 / x2.vae.config.scaling_factor).sample
    image_2 = x2.image_processor.postprocess(pixels, output_type="pil")[0]
    assert image_2.size == (1024, 1024)

    seen = []
    image_3 = x4(PROMPT, image=image_2.resize((128, 128)), num_inference_steps=STEPS, generator=_gen(),
                 callback=lambda step, t, latents: seen.append(tuple(latents.shape)), callback_steps=STEPS).images[0]
    assert seen == [(1, 4, 128, 128)]  # x4 latents have the input's size; its VAE decodes them 4x larger
    assert image_3.size == (512, 512)


def test_book_passes_x2_latents_into_x4_and_diffusers_refuses(x2, x4):
    latents_2 = torch.zeros(1, 4, 128, 128)  # what the book's x2 step returns with output_type="latent"
    with pytest.raises(ValueError, match=r"expects 7 but received .*4 \+ .*4\s+= 8"):
        x4(PROMPT, image=latents_2, num_inference_steps=1)


def test_batch_axis_is_restored_for_a_single_latent(sd, x2, init_image):
    """The book's `.images[0]` (no batch axis) still works in diffusers 0.42; `.images` is the documented form."""
    latents_1 = sd(PROMPT, image=init_image, num_inference_steps=STEPS, output_type="latent",
                   generator=_gen()).images
    batch = x2(PROMPT, image=latents_1, num_inference_steps=1, output_type="latent", generator=_gen()).images
    single = x2(PROMPT, image=latents_1[0], num_inference_steps=1, output_type="latent", generator=_gen()).images
    assert tuple(single.shape) == tuple(batch.shape) == (1, 4, 128, 128)


@pytest.mark.skipif(active_mode() != "twins", reason="loads by repo id: only cheap on the twins")
def test_autopipeline_picks_the_kandinsky_combined_pipeline():
    from diffusers import AutoPipelineForImage2Image

    pipe = AutoPipelineForImage2Image.from_pretrained(KANDINSKY)
    assert type(pipe).__name__ == "KandinskyV22Img2ImgCombinedPipeline"
    assert "prior_prior" in pipe.components
