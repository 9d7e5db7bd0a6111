"""From a fourteenth probe: settings of other tools, odd embeddings, old callbacks, PIL and compel slips."""

import numpy as np
import pytest
import torch
from conftest import checked_pipes, noted, raised, said
from PIL import Image

START = Image.new("RGB", (64, 64), (120, 80, 40))
MASK = Image.new("L", (64, 64), 0)
MASK.paste(255, (16, 16, 48, 48))


@pytest.fixture(scope="module")
def pipes():
    from diffusers import StableDiffusionInpaintPipeline

    yield from checked_pipes(inpaint=lambda t2i: StableDiffusionInpaintPipeline(**t2i.components))


def run(pipe, **kw):
    return pipe(**{"prompt": "a", "num_inference_steps": 2, **kw})


def test_other_tools_settings_get_diffusers_way_not_a_spelling_hint(pipes):
    err = raised(lambda: run(pipes["img2img"], image=START, image_guidance_scale=1.5))
    assert "InstructPix2Pix" in str(err) and "strength=" in str(err) and "Did you mean" not in str(err)
    err = raised(lambda: run(pipes["inpaint"], image=START, mask_image=MASK, mask_blur=4))
    assert "Image.composite(result, start.resize(result.size), soft)" in str(err)
    err = raised(lambda: run(pipes["inpaint"], image=START, mask_image=MASK, inpaint_full_res=True))
    assert "padding_mask_crop=32" in str(err)
    err = raised(lambda: run(pipes["img2img"], image=START, controlnet_scale=0.5))
    assert "it has no ControlNet" in str(err) and "spelling" not in str(err)
    err = raised(lambda: run(pipes["img2img"], image=START, hires_fix=True))
    assert "no hires_fix= and no argument with a similar name" in str(err)
    err = raised(lambda: run(pipes["img2img"], image=START, strenght=0.5))
    assert "Did you mean strength=?" in str(err)


def test_padding_mask_crop_as_a_fraction_or_zero_is_said(pipes):
    err = raised(lambda: run(pipes["inpaint"], image=START, mask_image=MASK, padding_mask_crop=0.1))
    assert "padding_mask_crop=0.1 is a fraction" in str(err)
    text = said(lambda: run(pipes["inpaint"], image=START, mask_image=MASK, padding_mask_crop=0),
                only_call_warnings=True)
    assert "padding_mask_crop=0 still crops" in text


def test_keywords_split_into_a_list_and_embeddings_with_an_axis_too_many(pipes):
    words = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k".split(", ")
    text = said(lambda: run(pipes["t2i"], prompt=words, height=64, width=64), only_call_warnings=True)
    assert "a list of 5 texts" in text and "', '.join(that_list)" in text
    assert "list of" not in said(lambda: run(pipes["t2i"], prompt=["a red fox", "a blue bird"], height=64, width=64),
                                 only_call_warnings=True)
    t2i = pipes["t2i"]
    embeds, negative = t2i.encode_prompt("a", "cpu", 1, True, "b")
    err = raised(lambda: t2i(prompt_embeds=embeds, negative_prompt_embeds=negative[None], num_inference_steps=1))
    assert "has 4 axes" in str(err) and "negative_prompt_embeds.squeeze(0)" in str(err)
    err = raised(lambda: t2i(prompt_embeds=embeds[0], num_inference_steps=1))
    assert "prompt_embeds=prompt_embeds[None]" in str(err)


def test_a_panel_result_latents_as_control_and_no_controlnet_are_told(pipes):
    from diffusers import ControlNetModel, StableDiffusionControlNetImg2ImgPipeline

    from helpers.loading import load_args
    from helpers.panel_results import Result

    err = raised(lambda: run(pipes["img2img"], image=Result(START, {}, 1.0)))
    assert "its picture is .image" in str(err)
    repo = "lllyasviel/control_v11f1p_sd15_depth"
    pipe = StableDiffusionControlNetImg2ImgPipeline(**pipes["t2i"].components,
                                                    controlnet=ControlNetModel.from_pretrained(repo, **load_args(repo)))
    err = raised(lambda: run(pipe, image=START, control_image=torch.zeros(1, 4, 8, 8)))
    assert "control_image is a tensor of latents (1, 4, 8, 8)" in str(err)
    pipe.controlnet = None
    err = raised(lambda: run(pipe, image=START, control_image=START))
    assert "controlnet is None" in str(err) and "controlnet_conditioning_scale=0" in str(err)


def test_old_callbacks_are_told_which_hook_they_belong_to(pipes):
    from diffusers import StableDiffusionUpscalePipeline

    from helpers.loading import load_args
    from helpers.preview import StepPreview

    t2i = pipes["t2i"]
    err = raised(lambda: run(t2i, height=64, width=64, callback=StepPreview(t2i)))
    assert "StepPreview" in str(err) and "callback_on_step_end=preview" in str(err)
    err = raised(lambda: run(t2i, height=64, width=64, callback=lambda step, t, latents: None))
    assert "callback_steps=1" in str(err)
    repo = "stabilityai/stable-diffusion-x4-upscaler"
    x4 = StableDiffusionUpscalePipeline.from_pretrained(repo, **load_args(repo))
    err = raised(lambda: run(x4, image=START.resize((16, 16)), callback=lambda pipe, step, t, kw: kw))
    assert "has only this older hook" in str(err) and "(pipe, step, t, kw)" in str(err)


def test_compel_made_wrongly_and_a_weight_of_fifteen_are_told(pipes):
    from compel import Compel

    t2i = pipes["t2i"]
    err = raised(lambda: Compel(t2i.text_encoder, t2i.tokenizer))
    assert "the other way round" in str(err)
    if not torch.cuda.is_available():
        err = raised(lambda: Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder, device="cuda"))
        assert "Leave device= out" in str(err)
    compel = Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder)
    assert "did you mean 1.5?" in said(lambda: compel("an astronaut in a (jungle)15"), only_call_warnings=True)
    assert "swamps" not in said(lambda: compel("a (jungle)1.5, 8k, 1024x1024"), only_call_warnings=True)


def test_scheduler_switches_given_as_text_are_refused(pipes):
    from diffusers import DDIMScheduler, EulerDiscreteScheduler

    config = pipes["t2i"].scheduler.config
    err = raised(lambda: EulerDiscreteScheduler.from_config(config, use_karras_sigmas="yes"))
    assert "use_karras_sigmas='yes' is text" in str(err)
    err = raised(lambda: DDIMScheduler.from_config(config, set_alpha_to_one="False"))
    assert "set_alpha_to_one=True or set_alpha_to_one=False" in str(err)


def test_pil_and_prior_slips_get_the_note_of_their_own_cause(tmp_path):
    from diffusers import PriorTransformer
    from PIL.PngImagePlugin import PngInfo

    from helpers.notes import note_for

    small = START.resize((32, 32))
    meaning, fix = note_for(raised(lambda: Image.composite(START, small, MASK.resize((32, 32)))))
    assert "image1 64×64" in meaning and "image1 = image1.resize((32, 32))" in fix
    meaning, fix = note_for(raised(lambda: Image.composite(START, START, MASK.resize((32, 32)))))
    assert "mask = mask.resize((64, 64))" in fix and "image2" not in fix
    meaning, fix = note_for(raised(lambda: START.save("~/no-such-folder-here/x.png")))
    assert "os.path.expanduser('~/no-such-folder-here/x.png')" in fix
    meaning, fix = note_for(raised(lambda: START.save(tmp_path / "x.png", pnginfo={"prompt": "a"})))
    assert "PngInfo" in fix
    START.save(tmp_path / "y.png", pnginfo=PngInfo())  # the fix's object is what PIL takes
    prior = PriorTransformer(num_attention_heads=1, attention_head_dim=4, num_layers=1, embedding_dim=4,
                             num_embeddings=2)
    meaning, fix = note_for(raised(lambda: prior("a cat")))
    assert "prior_pipe(prompt)" in fix


def test_the_depth_estimator_is_not_needed_for_these():
    assert np.asarray(MASK).max() == 255  # the mask used above has both parts



def test_notes_read_the_values_and_files_before_naming_a_cause(tmp_path):
    from diffusers import DDIMScheduler
    from diffusers.utils import make_image_grid
    from safetensors.torch import load_file

    meaning, fix = noted(lambda: (_ for _ in ()).throw(ValueError("`height` and `width` have to be divisible by 16")))
    assert "height // 16 * 16" in fix
    mask = np.zeros((8, 8)) > 0
    meaning, fix = noted(lambda: mask.save("m.png"))
    assert "astype('uint8') * 255" in fix and "output_type" not in fix
    pixels = np.full((4, 4, 3), -0.5, np.float32)
    meaning, fix = noted(lambda: Image.fromarray(pixels))
    assert "/ 2 + 0.5" in fix
    from diffusers.pipelines.stable_diffusion import StableDiffusionPipelineOutput

    output = StableDiffusionPipelineOutput(images=[START, START], nsfw_content_detected=None)
    meaning, fix = noted(lambda: make_image_grid(output, rows=1, cols=2))
    assert "output.images" in fix
    meaning, fix = noted(lambda: make_image_grid([[START], [START]], rows=1, cols=2))
    assert "first.images + second.images" in fix
    depth = Image.fromarray(np.ones((4, 4), np.float32))
    meaning, fix = noted(lambda: depth.save(tmp_path / "d.jpg"))
    assert "mode F" in meaning and "a.max() * 255" in fix
    heic = tmp_path / "photo.heic"
    heic.write_bytes(b"\x00\x00\x00\x18ftypheic" + bytes(40))
    meaning, fix = noted(lambda: Image.open(heic))
    assert "HEIC" in meaning and "pillow-heif" in fix
    page = tmp_path / "my_lora.safetensors"
    page.write_bytes(b"<!DOCTYPE html><html><body>Log in</body></html>")
    meaning, fix = noted(lambda: load_file(page))
    assert "web page" in meaning and "helpers.twins" not in fix
    scheduler = DDIMScheduler()
    scheduler.set_timesteps(2)
    meaning, fix = noted(lambda: [scheduler.step(torch.zeros(1, 4, 2, 2), t, torch.zeros(1, 4, 2, 2))
                                  for t in torch.arange(0, 2000, 100)])
    assert not meaning or "strength" not in meaning  # the learner's own loop: not the pipeline's numbers
    meaning, fix = noted(lambda: __import__("helpers.loader"))
    assert "helpers has no module" in meaning and "pip install helpers" not in fix
    meaning, fix = noted(lambda: exec("from diffusers.utils import no_such_name_here"))
    assert "has no no_such_name_here in this version" in meaning
    meaning, fix = noted(lambda: START.paste(START.resize((32, 32)), (0, 0, 16, 16)))
    assert "give only the corner, (0, 0)" in fix


def test_a_trailing_comma_and_a_controlnet_on_a_plain_class_are_named(pipes):
    from diffusers import StableDiffusionImg2ImgPipeline

    def trailing_comma():
        result = pipes["img2img"]("a", image=START, num_inference_steps=2, strength=0.5),
        return result.images

    meaning, fix = noted(trailing_comma)
    assert "a comma after the call" in meaning and "result[0].images" in fix
    components = pipes["t2i"].components
    meaning, fix = noted(lambda: StableDiffusionImg2ImgPipeline(**components, controlnet=pipes["t2i"].unet))
    assert "StableDiffusionControlNetImg2ImgPipeline" in fix and "controlnet=None" not in fix


def test_other_tools_names_without_a_diffusers_twin_say_what_to_do(pipes):
    err = raised(lambda: run(pipes["img2img"], image=START, image_strength=0.35))
    assert "strength = 1 - image_strength" in str(err) and "Did you mean" not in str(err)
    err = raised(lambda: run(pipes["img2img"], image=START, ddim_steps=20))
    assert "num_inference_steps=" in str(err)
    err = raised(lambda: run(pipes["inpaint"], image=START, mask_image=MASK, inpainting_mask_invert=1))
    assert "ImageOps.invert" in str(err)


def test_a_files_first_bytes_name_what_it_holds(tmp_path):
    from helpers.causes_files import sniff

    samples = {"page.safetensors": b"<!DOCTYPE html><html>",
               "lfs.safetensors": b"version https://git-lfs.github.com/spec/v1",
               "photo.heic": b"\x00\x00\x00\x18ftypheic" + bytes(8),
               "photo.avif": b"\x00\x00\x00\x18ftypavif" + bytes(8),
               "logo.svg": b"<?xml version='1.0'?><svg></svg>", "real.png": b"\x89PNG\r\n\x1a\n" + bytes(8)}
    found = {}
    for name, data in samples.items():
        (tmp_path / name).write_bytes(data)
        found[name] = sniff(tmp_path / name)
    assert found == {"page.safetensors": "html", "lfs.safetensors": "lfs", "photo.heic": "heic",
                     "photo.avif": "avif", "logo.svg": "svg", "real.png": None}


def test_scale_pooled_scales_only_what_reads_the_pooled_prompt():
    from diffusers import UNet2DConditionModel

    from tools.train_twins import scale_pooled

    common = {"sample_size": 8, "in_channels": 4, "out_channels": 4, "layers_per_block": 1,
              "block_out_channels": (8, 8), "norm_num_groups": 4, "cross_attention_dim": 32,
              "down_block_types": ("DownBlock2D", "CrossAttnDownBlock2D"),
              "up_block_types": ("CrossAttnUpBlock2D", "UpBlock2D")}
    sdxl = UNet2DConditionModel(**common, addition_embed_type="text_time", addition_time_embed_dim=8,
                                projection_class_embeddings_input_dim=32 + 5 * 8)
    before = sdxl.add_embedding.linear_1.weight.detach().clone()
    scale_pooled(sdxl, 0.5)
    after = sdxl.add_embedding.linear_1.weight.detach()
    assert torch.allclose(after[:, :32], before[:, :32] * 0.5) and torch.equal(after[:, 32:], before[:, 32:])
    sd = UNet2DConditionModel(**common, addition_embed_type="text", encoder_hid_dim=32)
    norm = sd.add_embedding.norm2
    weight, bias = norm.weight.detach().clone() + 1, norm.bias.detach().clone() + 0.5
    with torch.no_grad():
        norm.weight.copy_(weight), norm.bias.copy_(bias)
    scale_pooled(sd, 1.3)
    assert torch.allclose(norm.weight, weight * 1.3) and torch.allclose(norm.bias, bias * 1.3)
    assert scale_pooled(sd, 1.0) is sd
