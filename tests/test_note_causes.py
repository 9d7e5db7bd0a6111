"""Look-alike failures: a note names a cause only when the failed call confirms it (helpers.causes).

Each case is a mistake whose library message shares words with another cause. Before, a note matched those words
and could send the learner the wrong way (a batch mismatch blamed on picture sizes, a float64 tensor on fp16,
a scheduler without subfolder= on variants or ControlNets). Now each gets the note of its own cause, or none.
"""

import re
import warnings

import pytest
import torch
from PIL import Image

from helpers import explain
from helpers.loading import load_args
from helpers.notes import note_for

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"
X4 = "stabilityai/stable-diffusion-x4-upscaler"
INPAINT = "stable-diffusion-v1-5/stable-diffusion-inpainting"


@pytest.fixture(scope="module")
def pipes():
    from diffusers import (
        AutoPipelineForImage2Image,
        AutoPipelineForInpainting,
        StableDiffusionPipeline,
        StableDiffusionUpscalePipeline,
    )

    explain.enable()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        i2i = AutoPipelineForImage2Image.from_pretrained(SD, **load_args(SD))
        found = {"i2i": i2i, "t2i": StableDiffusionPipeline(**i2i.components),
                 "x4": StableDiffusionUpscalePipeline.from_pretrained(X4, **load_args(X4)),
                 "inpaint": AutoPipelineForInpainting.from_pretrained(INPAINT, **load_args(INPAINT))}
    for pipe in found.values():
        pipe.set_progress_bar_config(disable=True)
    yield found
    explain.disable()


def picture(side=64):
    return Image.new("RGB", (side, side), (120, 100, 80))


def mask(side=64):
    return Image.new("L", (side, side), 255)


def small(**kw):
    return dict(num_inference_steps=2, **kw)


def _load(cls_name, repo, **kw):
    import diffusers

    return lambda p: getattr(diffusers, cls_name).from_pretrained(repo, **kw)


CASES = [
    # the examples: each named a wrong cause before
    ("a list of prompts with one negative string", lambda p: p["i2i"](["a cat", "a dog"], image=picture(),
     negative_prompt="blurry", **small()), r"negative_prompt=\[negative_prompt\] \* 2"),
    ("a scheduler loaded without subfolder=", _load("DPMSolverMultistepScheduler", SD),
     r"from_config\(pipeline\.scheduler\.config\).*subfolder='scheduler'"),
    ("textual inversion while offline", lambda p: p["i2i"].load_textual_inversion("sd-concepts-library/cat-toy"),
     r"textual-inversion embeddings come from the Hub"),
    ("a repo id with no twin", _load("AutoPipelineForImage2Image", "prompthero/openjourney"), r"has no twin"),
    ("a model page's address for the id", _load("AutoPipelineForImage2Image", f"https://huggingface.co/{SD}"),
     rf"is the model's web address.*from_pretrained\('{SD}', ...\) \(one of the chapter's ids"),
    ("two prompts for one picture in the x4 upscaler", lambda p: p["x4"](["a cat", "a dog"], image=picture(32),
     **small()), r"prompt holds 2 prompts and image 1: StableDiffusionUpscalePipeline does not repeat"),
    ("two masks for one picture", lambda p: p["inpaint"]("a cat", image=picture(), mask_image=[mask(), mask()],
     **small()), r"image holds 1 and mask_image 2: one mask serves every picture"),
    ("float64 latents", lambda p: p["t2i"]("a cat", latents=torch.randn(1, 4, 8, 8, dtype=torch.float64),
     height=64, width=64, **small()), r"latents are float64, but the UNet's weights are float32"),
    # more look-alikes
    ("float16 latents into float32 weights", lambda p: p["t2i"]("a cat", latents=torch.randn(
        1, 4, 8, 8, dtype=torch.float16), height=64, width=64, **small()), r"latents are float16.*\.to\(pipeline"),
    ("prompt_embeds from another text encoder", lambda p: p["t2i"](prompt_embeds=torch.randn(1, 77, 1024),
     height=64, width=64, **small()), r"prompt_embeds are 1024 wide"),
    ("a UNet loaded without subfolder=", _load("UNet2DConditionModel", SD), r"subfolder='unet'"),
    ("a VAE with a mistyped subfolder", _load("AutoencoderKL", SD, subfolder="vea"),
     r"subfolder='vea' is not one.*subfolder='vae'"),
    ("latents without their batch axis", lambda p: p["t2i"]("a cat", latents=torch.randn(4, 8, 8), height=64,
     width=64, **small()), r"latents=latents\[None\]"),
    ("a three-channel mask tensor", lambda p: p["inpaint"]("a cat", image=picture(),
     mask_image=torch.ones(1, 3, 64, 64), **small()), r"mask_image\[:, :1\]"),
    ("a ControlNet loaded as a pipeline", _load("AutoPipelineForImage2Image", "lllyasviel/control_v11f1p_sd15_depth"),
     r"single model \(ControlNetModel\), not a pipeline"),
    # found by a second look: each named a wrong cause in the first version of these notes
    ("a ControlNet asked of the SD 1.5 repo", _load("ControlNetModel", SD), r"holds no ControlNetModel"),
    ("AutoencoderTiny asked of the SD 1.5 repo", _load("AutoencoderTiny", SD), r"holds no AutoencoderTiny"),
    ("a text encoder loaded without subfolder=", lambda p: __import__("transformers").CLIPTextModel.from_pretrained(SD),
     r"subfolder='text_encoder'"),
    ("variant= given a dtype", _load("AutoPipelineForImage2Image", SD, variant=torch.float16),
     r"variant= names a file label.*dtype=torch.float16"),
    ("a scheduler asked of a ControlNet repo", _load("DDIMScheduler", "lllyasviel/control_v11f1p_sd15_depth"),
     r"single model \(ControlNetModel\) and holds no scheduler"),
    ("two pictures, one mask, one prompt", lambda p: p["inpaint"]("a cat", image=[picture(), picture()],
     mask_image=mask(), **small()), r"image holds 2 pictures and there is one prompt.*a list of 2 strings"),
    ("float64 latents beside a harmless fp16 picture tensor", lambda p: p["inpaint"]("a cat", image=torch.rand(
        1, 3, 64, 64, dtype=torch.float16), mask_image=mask(), latents=torch.randn(1, 4, 8, 8, dtype=torch.float64),
        height=64, width=64, **small()), r"latents are float64"),
    ("a 3-D mask tensor", lambda p: p["inpaint"]("a cat", image=picture(), mask_image=torch.ones(3, 64, 64),
     **small()), r"mask_image=mask_image\[:1\]"),
    ("latents for 64 px where the inpainter works at its own size", lambda p: p["inpaint"]("a cat", image=picture(),
     mask_image=mask(), latents=torch.randn(1, 4, 8, 8), **small()), r"latents are 8×8.*pass height=64, width=64"),
    ("one prompt with a list of negative prompts", lambda p: p["i2i"]("a cat", image=picture(),
     negative_prompt=["blurry"], **small()), r"prompt=\[prompt\] \* 1"),
    ("a model loaded from a folder that does not exist", _load("UNet2DConditionModel", "./no/such/folder"),
     r"does not exist on this machine"),
]
# latents of another batch than the call's pictures are refused before the call now, with the fix
# (helpers.callbatch.check_latents_batch, tests/test_learner_slips.py), so diffusers' error is never reached


@pytest.mark.parametrize(("what", "make", "expected"), CASES, ids=[c[0] for c in CASES])
def test_each_look_alike_gets_the_note_of_its_own_cause(pipes, what, make, expected):
    with pytest.raises(Exception) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        make(pipes)
    found = note_for(info.value)
    assert found is not None, f"{what}: no note for {type(info.value).__name__}: {info.value}"
    assert re.search(expected, " ".join(found)), f"{what}: {found}"


def _raised(exc):
    try:
        raise exc
    except type(exc) as err:
        return err


# The same words with nothing to confirm a cause: no note, rather than a guess
UNCONFIRMED = [
    RuntimeError("The size of tensor a (8) must match the size of tensor b (6) at non-singleton dimension 3"),
    RuntimeError("Sizes of tensors must match except in dimension 1. Expected size 4 but got size 2"),
    OSError("stabilityai/x does not appear to have a file named model_index.json."),
    TypeError("`negative_prompt` should be the same type to `prompt`, but got <class 'str'> != <class 'list'>."),
    RuntimeError("Expected all tensors to have the same dtype: expected scalar type should be the same"),
]


@pytest.mark.parametrize("exc", UNCONFIRMED, ids=[str(e)[:40] for e in UNCONFIRMED])
def test_loose_words_alone_give_no_note(exc):
    assert note_for(_raised(exc)) is None


def test_your_own_code_with_the_same_words_gets_no_note(pipes):
    with pytest.raises(RuntimeError) as info:
        torch.cat([torch.zeros(1, 4, 8, 8), torch.zeros(1, 4, 8, 9)])  # the learner's own tensors, no pipeline call
    assert note_for(info.value) is None


def test_a_message_that_names_both_dtypes_still_gets_its_note():
    found = note_for(_raised(RuntimeError("expected scalar type Float but found Double")))
    assert found is not None and "float64" in found[0]
    assert "pick_dtype" in note_for(_raised(RuntimeError("Input type (c10::Half) and bias type (float) should be "
                                                         "the same")))[1]


def test_a_local_folder_is_not_taken_for_a_repo_without_a_twin(pipes, tmp_path):
    from diffusers import UNet2DConditionModel

    pipes["t2i"].unet.save_pretrained(tmp_path / "unet")
    with pytest.raises(Exception) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        UNet2DConditionModel.from_pretrained(tmp_path)  # the folder above the saved one
    found = note_for(info.value)
    assert found is not None and f"{tmp_path} is a folder on this machine" in found[0], found
    assert "twin" not in " ".join(found)


def test_notes_never_raise_on_odd_arguments(pipes):
    with pytest.raises(Exception) as info, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipes["t2i"].load_textual_inversion(torch.randn(768), token="<cat>")  # a tensor where a path goes
    note_for(info.value)  # no exception from the note itself; None or a note are both fine here


def test_after_a_declined_cause_no_weaker_note_follows():
    from huggingface_hub.errors import LocalEntryNotFoundError

    # the Hub's error subclasses FileNotFoundError: the "relative paths" note must not answer for it
    found = note_for(_raised(LocalEntryNotFoundError("Cannot find the requested files in the disk cache")))
    assert found is not None and "Relative paths" not in found[0] and "offline twins" in found[0]


def test_a_cut_off_picture_is_not_called_a_damaged_weights_file():
    found = note_for(_raised(OSError("image file is truncated (12 bytes not processed)")))
    assert found is not None and "picture file is cut short" in found[0] and "weights" not in found[0]


def test_a_picture_url_that_cannot_be_fetched_offline_is_not_blamed_on_the_twins():
    import requests

    from helpers.notes import format_note

    said = ("HTTPSConnectionPool(host='huggingface.co', port=443): Max retries exceeded with url: /datasets/"
            "huggingface/documentation-images/resolve/main/diffusers/img2img-init.png (Caused by "
            "NameResolutionError(\"Failed to resolve 'huggingface.co'\"))")
    note = format_note(requests.exceptions.ConnectionError(said))
    assert "img2img-init.png is fetched from the internet" in note and "load_chapter_image('img2img-init')" in note
    assert "twins' cache" not in note and "helpers.twins build" not in note
