"""Tests for chapters 4 and 5: Compel embeddings, the ControlNet img2img pipeline, depth maps, inpainting pipelines
and the kept-area measure that notebook 05 defines. They run on the twins, with few steps and small images."""

import ast
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers.images import make_mask, mask_coverage
from helpers.loading import decide

SD15 = "stable-diffusion-v1-5/stable-diffusion-v1-5"
CONTROLNET = "lllyasviel/control_v11f1p_sd15_depth"
DEPTH = "depth-anything/Depth-Anything-V2-Small-hf"
INPAINT_NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "05_inpainting.ipynb"
PROMPT = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"


@pytest.fixture(scope="module", autouse=True)
def twins():
    """conftest.py normally chose the twins already; make sure of it before anything imports diffusers."""
    from helpers import active_mode, use_models

    if active_mode() != "twins":
        use_models("twins")


@pytest.fixture(scope="module")
def sd15(twins):
    from diffusers import AutoPipelineForImage2Image

    pipeline = AutoPipelineForImage2Image.from_pretrained(SD15, dtype=torch.float32, **decide(SD15).kwargs)
    pipeline.set_progress_bar_config(disable=True)
    return pipeline


@pytest.fixture(scope="module")
def compel(sd15):
    from compel import Compel

    return Compel(tokenizer=sd15.tokenizer, text_encoder=sd15.text_encoder)


def _changed_rows(embeds, reference):
    return ((embeds - reference).abs().amax(dim=-1)[0] > 1e-4).nonzero().flatten().tolist()


# ---- chapter 4, part A: Compel ---------------------------------------------------------------------------------


def test_compel_prompt_and_negative_have_the_same_shape(sd15, compel):
    hidden = sd15.text_encoder.config.hidden_size
    prompt_embeds = compel("Astronaut in a jungle++, cold color palette")
    negative_prompt_embeds = compel("ugly, deformed, astronaut--")
    assert prompt_embeds.shape == negative_prompt_embeds.shape == (1, 77, hidden)
    assert prompt_embeds.dtype == torch.float32


def test_compel_without_weights_equals_the_pipelines_own_encoding(sd15, compel):
    own, _ = sd15.encode_prompt(PROMPT, device="cpu", num_images_per_prompt=1, do_classifier_free_guidance=False)
    assert torch.allclose(compel(PROMPT), own, atol=1e-5)


def test_upweighting_changes_only_its_token_and_downweighting_the_rest(compel):
    plain = compel(PROMPT)
    assert compel.describe_tokenization(PROMPT)[3] == "jungle</w>"  # row 4, after the start marker
    assert _changed_rows(compel(PROMPT.replace("jungle", "jungle++")), plain) == [4]
    assert _changed_rows(compel(PROMPT.replace("Astronaut", "Astronaut--")), plain) == list(range(1, 77))


def test_and_makes_longer_embeddings_that_need_padding(sd15, compel):
    joined = compel('("astronaut in a jungle", "cold color palette").and()')
    negative = compel("ugly")
    assert joined.shape[1] == 154
    padded_prompt, padded_negative = compel.pad_conditioning_tensors_to_same_length([joined, negative])
    assert padded_prompt.shape == padded_negative.shape == joined.shape
    with pytest.raises(ValueError, match="same shape"):
        sd15(prompt_embeds=joined, negative_prompt_embeds=negative, image=Image.new("RGB", (64, 64)))


def test_img2img_accepts_compel_embeddings(sd15, compel):
    from helpers.device import make_generator

    prompt_embeds, negative = compel.pad_conditioning_tensors_to_same_length([compel(PROMPT), compel("ugly")])
    image = sd15(
        prompt_embeds=prompt_embeds, negative_prompt_embeds=negative, image=Image.new("RGB", (64, 64), "gray"),
        num_inference_steps=2, generator=make_generator(0, "cpu"),
    ).images[0]
    assert image.size == (64, 64)


# ---- chapter 4, part B: ControlNet and depth -------------------------------------------------------------------


def test_controlnet_img2img_pipeline_class(twins):
    from diffusers import AutoPipelineForImage2Image, ControlNetModel

    from helpers.device import make_generator

    controlnet = ControlNetModel.from_pretrained(CONTROLNET, dtype=torch.float32, **decide(CONTROLNET).kwargs)
    pipeline = AutoPipelineForImage2Image.from_pretrained(
        SD15, controlnet=controlnet, dtype=torch.float32, **decide(SD15).kwargs
    )
    pipeline.set_progress_bar_config(disable=True)
    assert type(pipeline).__name__ == "StableDiffusionControlNetImg2ImgPipeline"
    assert pipeline.controlnet is controlnet
    assert controlnet.config.conditioning_channels == 3
    image = pipeline(
        PROMPT, image=Image.new("RGB", (128, 128), "gray"), control_image=Image.new("RGB", (128, 128), "white"),
        num_inference_steps=2, generator=make_generator(0, "cpu"),
    ).images[0]
    assert image.size == (128, 128)


def test_the_book_controlnet_id_is_a_typo():
    from helpers.checkpoints import DeadRepoIdError, checkpoint

    with pytest.raises(DeadRepoIdError, match="control_v11f1p_sd15_depth"):
        checkpoint("lllyasviel/control_v11flip_sd15_depth")
    assert decide(CONTROLNET).variant == "fp16"  # read from the ControlNet's files
    assert decide("nitrosocke/elden-ring-diffusion", allow_pickle="nitrosocke/elden-ring-diffusion").variant is None


def test_image_processor_rounds_sizes_down_to_multiples_of_8(sd15):
    tensor = sd15.image_processor.preprocess(Image.new("RGB", (958, 960)))
    assert tuple(tensor.shape[-2:]) == (960, 952)


@pytest.mark.parametrize("size", [(512, 512), (320, 240)])
def test_depth_map_has_the_input_size(twins, size):
    from transformers import pipeline

    depth_estimator = pipeline("depth-estimation", model=DEPTH, device="cpu")
    result = depth_estimator(Image.new("RGB", size, "gray"))
    assert result["depth"].size == size
    assert result["depth"].mode == "L"
    assert result["depth"].convert("RGB").mode == "RGB"
    assert tuple(result["predicted_depth"].shape[-2:]) == (size[1], size[0])


# ---- chapter 5: inpainting -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("repo_id", "pipeline_class", "native"),
    [
        ("kandinsky-community/kandinsky-2-2-decoder-inpaint", "KandinskyV22InpaintCombinedPipeline", None),
        ("stable-diffusion-v1-5/stable-diffusion-inpainting", "StableDiffusionInpaintPipeline", 512),
        ("diffusers/stable-diffusion-xl-1.0-inpainting-0.1", "StableDiffusionXLInpaintPipeline", 1024),
    ],
)
def test_inpainting_pipelines(twins, repo_id, pipeline_class, native):
    from diffusers import AutoPipelineForInpainting

    pipeline = AutoPipelineForInpainting.from_pretrained(repo_id, dtype=torch.float32, **decide(repo_id).kwargs)
    assert type(pipeline).__name__ == pipeline_class
    assert pipeline.unet.config.in_channels == 9  # noisy latents 4 + mask 1 + masked-image latents 4
    if native is not None:
        assert pipeline.unet.config.sample_size * pipeline.vae_scale_factor == native


def _notebook_function(name):
    """Compile one function from notebook 05, so the tests check the measure the notebook really uses."""
    import nbformat

    notebook = nbformat.read(INPAINT_NOTEBOOK, as_version=4)
    for cell in notebook.cells:
        if cell.cell_type != "code":
            continue
        for node in ast.parse(cell.source).body:
            if isinstance(node, ast.FunctionDef) and node.name == name:
                namespace = {"np": np}
                exec(compile(ast.Module([node], type_ignores=[]), str(INPAINT_NOTEBOOK.name), "exec"), namespace)
                return namespace[name]
    raise AssertionError(f"notebook 05 no longer defines {name}()")


@pytest.fixture(scope="module")
def area_differences():
    return _notebook_function("area_differences")


def test_measure_is_zero_for_an_untouched_image(area_differences):
    image = Image.fromarray(np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8))
    mask = make_mask((64, 64), box=(16, 16, 48, 48))
    assert area_differences(image, image.copy(), mask) == (0.0, 0.0)


def test_measure_counts_only_the_unmasked_region_as_kept(area_differences):
    init = Image.new("RGB", (64, 64), (100, 100, 100))
    mask = make_mask((64, 64), box=(0, 0, 32, 64))  # left half repainted
    inside_changed = Image.composite(Image.new("RGB", (64, 64), (200, 200, 200)), init, mask)
    kept, repainted = area_differences(init, inside_changed, mask)
    assert kept == 0.0 and repainted == 100.0
    outside_changed = Image.composite(init, Image.new("RGB", (64, 64), (130, 70, 100)), mask)
    kept, repainted = area_differences(init, outside_changed, mask)
    assert kept == pytest.approx((30 + 30 + 0) / 3) and repainted == 0.0


def test_measure_uses_the_pipelines_mask_threshold(area_differences):
    init = Image.new("RGB", (2, 1), (0, 0, 0))
    output = Image.new("RGB", (2, 1), (90, 90, 90))
    mask = Image.new("L", (2, 1))
    mask.putpixel((0, 0), 127)  # just below mid-grey: kept
    mask.putpixel((1, 0), 128)  # mid-grey: repainted
    assert mask_coverage(mask) == 0.5
    assert area_differences(init, output, mask) == (90.0, 90.0)
    only_right = Image.new("RGB", (2, 1), (0, 0, 0))
    only_right.putpixel((1, 0), (90, 90, 90))
    assert area_differences(init, only_right, mask) == (0.0, 90.0)


def test_measure_refuses_different_sizes(area_differences):
    with pytest.raises(ValueError, match="resize"):
        area_differences(Image.new("RGB", (64, 64)), Image.new("RGB", (128, 128)), Image.new("L", (64, 64)))


def test_pasting_back_keeps_the_unmasked_area_exact(twins, area_differences):
    from diffusers import AutoPipelineForInpainting

    from helpers.device import make_generator

    pipeline = AutoPipelineForInpainting.from_pretrained(
        "stable-diffusion-v1-5/stable-diffusion-inpainting", dtype=torch.float32,
        **decide("stable-diffusion-v1-5/stable-diffusion-inpainting").kwargs
    )
    pipeline.set_progress_bar_config(disable=True)
    init = Image.fromarray(np.random.default_rng(1).integers(0, 256, (128, 128, 3), dtype=np.uint8))
    mask = make_mask((128, 128), ellipse=(32, 32, 96, 96))
    output = pipeline(
        prompt="a castle", image=init, mask_image=mask, height=128, width=128,
        num_inference_steps=2, generator=make_generator(92, "cpu"),
    ).images[0]
    assert output.size == init.size
    assert area_differences(init, output, mask)[0] > 0  # the pipeline alone does not keep pixels exact
    assert area_differences(init, Image.composite(output, init, mask), mask)[0] == 0.0
