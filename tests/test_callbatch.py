"""How a call's parts fit together (helpers.callbatch, helpers.libgaps, check_embeds): refused first, with the fix."""

import re

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import checks
from helpers.pictures import convert_array

SD = "stable-diffusion-v1-5/stable-diffusion-v1-5"


def run(pipe, **kwargs):
    return pipe(height=64, width=64, num_inference_steps=2, **kwargs)


def embeds(pipe, batch=1, tokens=77):
    return torch.randn(batch, tokens, pipe.text_encoder.config.hidden_size)


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"prompt": "a cat", "num_images_per_prompt": 2, "generator": [torch.Generator()]},
     r"list of 1 generator\(s\), but this call makes 2 picture\(s\) \(1 prompt\(s\) × num_images_per_prompt=2\).*"
     r"range\(2\)"),
    ({"prompt": ["a cat", "a dog"], "generator": [torch.Generator()] * 3}, r"list of 3 .* makes 2 picture"),
    ({"prompt": "a cat", "clip_skip": 50}, r"clip_skip=50 skips more layers than .*text_encoder has \(\d+; .*"
                                           r"Use at most \d+"),
    ({"prompt": "a cat", "clip_skip": 1.5}, r"clip_skip must be a whole number"),
    ({"prompt": "a cat", "prompt_embeds": "EMBEDS"}, r"prompt= and prompt_embeds= were both given.*Keep one"),
    ({"prompt_embeds": "EMBEDS2D"}, r"shape \(77, \d+\): one prompt without its batch axis.*prompt_embeds\[None\]"),
    ({"prompt_embeds": "EMBEDS154", "negative_prompt": "blurry"},
     r"154 tokens .*negative_prompt='blurry'.*at most 77.*pad_conditioning_tensors_to_same_length"),
])
def test_parts_that_do_not_fit_are_refused_with_the_fix(t2i, kwargs, match):
    stand_in = {"EMBEDS": embeds(t2i), "EMBEDS2D": embeds(t2i)[0], "EMBEDS154": embeds(t2i, tokens=154)}
    kwargs = {k: stand_in.get(v, v) if isinstance(v, str) else v for k, v in kwargs.items()}
    with pytest.raises((TypeError, ValueError), match=match):
        run(t2i, **kwargs)


def test_the_fitting_versions_run(t2i):
    out = run(t2i, prompt="a cat", num_images_per_prompt=2, generator=[torch.Generator(), torch.Generator()])
    assert len(out.images) == 2
    out = run(t2i, prompt_embeds=embeds(t2i, 2), negative_prompt_embeds=embeds(t2i, 1).expand(2, -1, -1))
    assert len(out.images) == 2  # the fix the batch message gives


@pytest.mark.parametrize(("negative", "match"), [
    ((1, 77), r"holds 2 prompt\(s\) but negative_prompt_embeds \(1, 77, 8\) holds 1.*expand\(2, -1, -1\)\.$"),
    ((1, 154), r"holds 1.*expand\(2, -1, -1\) \(and if the token counts differ too, pad"),
    ((2, 154), r"differ in token count \(77 against 154\).*pad_conditioning_tensors_to_same_length"),
])
def test_embedding_shapes_name_the_axis_that_differs(negative, match):
    with pytest.raises(ValueError, match=match):
        checks.check_embeds(torch.zeros(2, 77, 8), torch.zeros(*negative, 8))
    with pytest.raises(ValueError, match=r"differ in width \(8 against 16\): they came from different text encoders"):
        checks.check_embeds(torch.zeros(1, 77, 8), torch.zeros(1, 77, 16))


@pytest.mark.parametrize(("shape", "fix"), [((64, 48, 3), r"permute\(2, 0, 1\)\[None\]"),
                                            ((1, 64, 48, 3), r"permute\(0, 3, 1, 2\)")])
def test_a_channels_last_picture_tensor_is_refused_with_the_permute(shape, fix):
    with pytest.raises(ValueError, match=rf"shape {re.escape(str(shape))}: channels last.*image=image\.{fix}"):
        convert_array(torch.rand(shape), "image")
    latents = torch.rand(1, 4, 8, 8)
    assert convert_array(latents, "image") is latents  # channels first, as diffusers reads: untouched


def test_clip_skip_is_refused_where_the_installed_libraries_cannot_run_it_and_the_way_around_matches(t2i):
    from helpers.libgaps import flattened

    if not flattened(t2i.text_encoder):  # a later transformers with text_model back: the check is quiet
        assert run(t2i, prompt="a cat", clip_skip=1).images
        return
    with pytest.raises(RuntimeError, match=r"clip_skip=1 cannot run.*transformers 5\.6.*#14124") as caught:
        run(t2i, prompt="a cat", clip_skip=1)
    with pytest.raises(RuntimeError, match=r"without the peft package.*pip install peft"):
        run(t2i, prompt="a cat", cross_attention_kwargs={"scale": 0.5})
    # the message's code, run as printed, gives what diffusers' own clip_skip path gives where it works
    code = str(caught.value).split("instead of prompt= and clip_skip=:\n", 1)[1].rsplit("\n", 1)[0]
    scope = {"pipeline": t2i, "prompt": "a cat", "torch": torch}
    exec(code.replace("\n    ", "\n").strip(), scope)  # noqa: S102 - the message's own snippet, dedented
    object.__setattr__(t2i.text_encoder, "text_model", t2i.text_encoder)  # the layout diffusers 0.42 expects
    try:
        expected = t2i.encode_prompt("a cat", "cpu", 1, False, clip_skip=1)[0]
    finally:
        del t2i.text_encoder.__dict__["text_model"]
    assert torch.equal(scope["prompt_embeds"], expected)
    assert run(t2i, prompt_embeds=scope["prompt_embeds"]).images  # and the call then runs


def test_a_missing_peft_gets_the_install_note():
    import importlib.util

    from helpers.notes import format_note

    note = format_note(ValueError("PEFT backend is required for `load_lora_weights()`."))
    if importlib.util.find_spec("peft") is None:
        assert "%pip install peft" in note and "not installed" in note
    else:
        assert note is None or "peft" in note


def test_a_panel_is_refused_at_construction_for_what_would_fail_its_first_run(t2i):
    from diffusers import StableDiffusionImg2ImgPipeline

    from helpers.panel import Panel

    img2img = StableDiffusionImg2ImgPipeline(**t2i.components)
    with pytest.raises(TypeError, match=r"prompt box holds one prompt as text, got a list of 2"):
        Panel(t2i, prompt=["a cat", "a dog"])
    with pytest.raises(ValueError, match=r"works from a start picture.*fixed=\{'image': picture\}"):
        Panel(img2img, prompt="a cat")
    with pytest.raises(TypeError, match=r"encode\(prompt, negative_prompt, extras\).*yours takes \(prompt, neg"):
        Panel(t2i, prompt="a cat", encode=lambda prompt, negative: {})
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match=r"device='cuda', but torch here has no CUDA device.*pick_device"):
            Panel(t2i, prompt="a cat", device="cuda")
    Panel(img2img, prompt="a cat", fixed={"image": Image.fromarray(np.zeros((64, 64, 3), np.uint8))})



def test_weights_of_one_family_in_the_other_familys_class_are_refused(t2i):
    from diffusers import StableDiffusionXLImg2ImgPipeline

    c = t2i.components
    xl = StableDiffusionXLImg2ImgPipeline(vae=c["vae"], text_encoder=c["text_encoder"], text_encoder_2=None,
                                          tokenizer=c["tokenizer"], tokenizer_2=None, unet=c["unet"],
                                          scheduler=c["scheduler"])
    xl.register_to_config(_name_or_path=SD)
    with pytest.raises(TypeError, match=r"holds SD 1.x/2.x weights from .*stable-diffusion-v1-5 \(the repo names "
                                         r"StableDiffusionPipeline\).*AutoPipelineForImage2Image.from_pretrained"):
        xl("a cat", image=Image.new("RGB", (64, 64)), num_inference_steps=2, strength=0.5)
