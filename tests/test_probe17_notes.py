"""From a seventeenth probe: notes for slips around the calls (PIL, torch, saved files, uploads, loaders)."""

import numpy as np
import pytest
import torch
from conftest import checked_pipes, noted, raised
from PIL import Image

START = Image.new("RGB", (64, 48), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_pil_and_torch_signatures_get_the_call_that_works():
    meaning, fix = noted(lambda: START.resize(128, 96))
    assert "read 96 as the resampling filter" in meaning and "picture.resize((128, 96))" in fix
    assert noted(lambda: START.resize((128, 96), 99)) == ("", "")  # a real bad filter: no note about the size
    meaning, fix = noted(lambda: Image.fromarray(np.asarray(START).transpose(2, 0, 1)))
    assert "3×48×64: channels first" in meaning and "array.transpose(1, 2, 0)" in fix
    assert noted(lambda: Image.fromarray(np.zeros((8, 8, 5), np.uint8))) == ("", "")  # five channels last

    def no_parentheses():
        with torch.no_grad:
            pass

    meaning, fix = noted(no_parentheses)
    assert "torch.no_grad is a class" in meaning and "with torch.no_grad():" in fix

    class NotAContext:
        pass

    def not_a_context():
        with NotAContext:
            pass

    assert noted(not_a_context) == ("", "")  # calling it would not help: it has no __enter__


def test_a_saved_file_is_not_a_folder(tmp_path, monkeypatch):
    from diffusers import UNet2DConditionModel
    from safetensors.torch import save_file

    monkeypatch.chdir(tmp_path)
    torch.save({"w": torch.zeros(2)}, "unet.pt")
    meaning, fix = noted(lambda: UNet2DConditionModel.from_pretrained("unet.pt"))
    assert "saved with torch.save" in meaning and "load_state_dict(torch.load('unet.pt'" in fix
    save_file({"w": torch.zeros(2)}, "model.safetensors")
    meaning, fix = noted(lambda: UNet2DConditionModel.from_pretrained("model.safetensors"))
    assert "one safetensors file" in meaning and "from_single_file" in fix
    (tmp_path / "notes.txt").write_text("not json")
    assert noted(lambda: UNet2DConditionModel.from_pretrained("notes.txt")) == ("", "")  # neither kind of weights


def test_an_upload_offline_is_not_blamed_on_the_cache(monkeypatch):
    import huggingface_hub
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    meaning, fix = noted(lambda: huggingface_hub.create_repo("me/my_sd"))
    assert "an upload to the Hugging Face Hub" in meaning and "save_pretrained('my_sd')" in fix
    assert "twins" not in meaning + fix


def test_loaders_a_pipeline_lacks_and_embeddings_of_another_family(pipes, tmp_path):
    from diffusers import StableDiffusionUpscalePipeline
    from safetensors.torch import save_file

    save_file({"emb_params": torch.zeros(1, 1024)}, tmp_path / "sd2.safetensors")
    width = pipes["t2i"].text_encoder.get_input_embeddings().weight.shape[-1]
    meaning, fix = noted(lambda: pipes["t2i"].load_textual_inversion(str(tmp_path / "sd2.safetensors"), token="<x>"))
    assert f"1024 numbers wide, and this pipeline's text encoder takes {width}" in meaning
    assert "Stable Diffusion 2.x" in meaning
    meaning, fix = noted(lambda: StableDiffusionUpscalePipeline.from_pipe(pipes["t2i"]))
    assert "low_res_scheduler" in meaning and "from_pretrained('stabilityai/stable-diffusion-x4-upscaler'" in fix

    def kandinsky_lora():
        raise AttributeError("'KandinskyV22Img2ImgCombinedPipeline' object has no attribute 'load_lora_weights'")

    meaning, fix = noted(kandinsky_lora)
    assert "no load_lora_weights" in meaning and "Kandinsky 2.2 is another model family" in meaning
    assert noted(lambda: pipes["t2i"].load_lora_weight)[1].startswith(  # a typo of a loader this pipeline has
        "did you mean .load_lora_weights")


def test_a_chapter_picture_name_in_the_file_loader_points_to_its_loader():
    from helpers.images import load_image_file

    err = raised(lambda: load_image_file("img2img-init"))
    assert "load_chapter_image('img2img-init')" in str(err) and "spelling" not in str(err)
    assert "check the spelling" in str(raised(lambda: load_image_file("img2img-inti.png")))


def test_a_file_extension_as_the_save_format(tmp_path):
    picture = Image.new("RGB", (8, 8))
    meaning, fix = noted(lambda: picture.save(tmp_path / "a.png", format="jpg"))
    assert "(it is the file extension of JPEG)" in meaning and "format='JPEG'" in fix
    assert noted(lambda: {}["JPG"]) == ("", "")  # the learner's own dict


def test_a_name_the_tutorials_own_objects_lack_lists_what_they_have():
    from helpers.preview import StepPreview

    preview = object.__new__(StepPreview)  # no pipeline needed to ask for a name it lacks
    meaning, fix = noted(lambda: preview.timelin)
    assert "a StepPreview has no timelin" in meaning and "did you mean .timeline?" in fix

    class Own:
        pass

    assert noted(lambda: Own().timelin) == ("", "")  # the learner's own class: Python's message says it
