"""The catalogue of bad inputs and faults (docs/errors.md): each one fails clearly, naming the parameter and the fix.

Case numbers match docs/errors.md.
"""

import errno
import os
import subprocess
import sys
import textwrap
import urllib.error
import warnings

import pytest
import torch
from PIL import Image

from helpers import checks, images
from helpers.checkpoints import DeadRepoIdError, UnknownCheckpointError, checkpoint
from helpers.device import pick_dtype
from helpers.modes import HubUnavailableError, decide
from helpers.speed import fit_to_machine


def rgb(size=(64, 64), colour=(120, 80, 40)):
    return Image.new("RGB", size, colour)


def mask(size=(64, 64), box=(8, 8, 40, 40)):
    m = Image.new("L", size, 0)
    m.paste(255, box)
    return m


# ---------------------------------------------------------------- images and masks


def test_01_image_and_mask_of_different_sizes():
    with pytest.raises(ValueError, match=r"mask_image is 32x32 but image is 64x64.*mask_image.resize\(image.size\)"):
        checks.check_mask(mask((32, 32), (0, 0, 8, 8)), rgb())


def test_02_rgb_mask_is_converted_and_said():
    with pytest.warns(checks.CallWarning, match="converted mode RGB → L \\(white = repaint"):
        out = checks.check_mask(mask().convert("RGB"), rgb())
    assert out.mode == "L"


def test_03_rgba_mask_uses_its_alpha():
    rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    rgba.paste((255, 255, 255, 255), (8, 8, 40, 40))
    with pytest.warns(checks.CallWarning, match="using its alpha channel"):
        out = checks.check_mask(rgba, rgb())
    assert out.getpixel((10, 10)) == 255 and out.getpixel((60, 60)) == 0


def test_04_inverted_mask_gets_a_hint():
    inverted = Image.new("L", (64, 64), 255)
    inverted.paste(0, (30, 30, 34, 34))
    with pytest.warns(checks.CallWarning, match=r"invert it: mask_image = PIL.ImageOps.invert\(mask_image.convert"):
        checks.check_mask(inverted, rgb())


@pytest.mark.parametrize(("mode", "note"), [("RGBA", "has transparency"), ("CMYK", "CMYK image"),
                                            ("P", "P image"), ("I;16", "I;16 image")])
def test_05_cmyk_palette_alpha_and_16_bit_images_become_rgb_with_a_warning(mode, note):
    with pytest.warns(checks.CallWarning, match=note):
        out = checks.check_image(Image.new(mode, (16, 16)), "image")
    assert out.mode == "RGB"


def test_05b_grey_becomes_rgb_silently():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # grey to RGB loses nothing: no warning
        assert checks.check_image(Image.new("L", (16, 16)), "image").mode == "RGB"


def test_06_image_that_is_not_an_image():
    with pytest.raises(TypeError, match="image must be a PIL image.*load_image_file"):
        checks.check_image(torch.zeros(3, 8, 8))


def test_07_width_or_height_not_a_multiple_of_8():
    with pytest.raises(ValueError, match="width=958 is not a multiple of 8.*Use 952 or 960"):
        checks.check_size(958, 960)


def test_08_huge_image_is_refused_before_decoding(tmp_path, monkeypatch):
    monkeypatch.setattr(images, "MAX_MEGAPIXELS", 0.001)
    path = tmp_path / "big.png"
    rgb((64, 64)).save(path)
    with pytest.raises(ValueError, match="megapixel limit; shrink it first"):
        images.load_image_file(path)


def test_09_empty_mask_has_nothing_to_repaint():
    with pytest.raises(ValueError, match="mask_image is all black: nothing would be repainted.*make_mask") as info:
        checks.check_mask(Image.new("L", (64, 64), 0), rgb())
    assert "invert" not in str(info.value)  # inverted, an all-black mask is all white: the whole picture


def test_09b_a_zero_one_mask_is_told_to_multiply_not_to_invert():
    zero_one = Image.new("L", (64, 64), 0)
    zero_one.paste(1, (16, 16, 48, 48))  # a mask from numpy or a segmentation model: 1 = repaint
    with pytest.raises(ValueError, match=r"only 0 and 1.*point\(lambda v: v \* 255\)") as info:
        checks.check_mask(zero_one, rgb())
    assert "invert" not in str(info.value)
    fixed = zero_one.point(lambda v: v * 255)  # following the advice gives a mask that works
    assert checks.check_mask(fixed, rgb()).getextrema() == (0, 255)


def test_09c_a_soft_grey_brush_is_told_about_the_cut_at_half():
    soft = Image.new("L", (64, 64), 0)
    soft.paste(90, (16, 16, 48, 48))  # a brush at 35% opacity
    with pytest.raises(ValueError, match=r"grey at most \(90 of 255\).*cut masks at 0.5"):
        checks.check_mask(soft, rgb())
    partly = Image.new("L", (64, 64), 0)
    partly.paste(255, (8, 8, 24, 24))
    partly.paste(100, (32, 32, 60, 60))  # half the strokes are grey: those will be kept
    with pytest.warns(checks.CallWarning, match=r"grey below 128.*only the white part is repainted"):
        checks.check_mask(partly, rgb())


def test_10_all_white_mask_is_plain_img2img():
    with pytest.raises(ValueError, match="mask_image is all white.*allow_full=True"):
        checks.check_mask(Image.new("L", (64, 64), 255), rgb())
    assert checks.check_mask(Image.new("L", (64, 64), 255), rgb(), allow_full=True).mode == "L"


# ---------------------------------------------------------------- parameters


@pytest.mark.parametrize("value", [-0.1, 1.5])
def test_11_strength_outside_0_1(value):
    with pytest.raises(ValueError, match=rf"strength={value} is outside \[0, 1\].*such as 0.75"):
        checks.check_strength(value)


def test_12_steps_times_strength_below_one():
    with pytest.raises(ValueError, match=r"num_inference_steps=4 × strength=0.2 .* raise num_inference_steps to at "
                                         r"least 5"):
        checks.check_steps(4, 0.2)


def test_12b_without_the_check_diffusers_fails_silently():
    from diffusers import AutoPipelineForImage2Image

    pipe = AutoPipelineForImage2Image.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5")
    pipe.set_progress_bar_config(disable=True)
    steps = []
    pipe("x", image=rgb((64, 64)), num_inference_steps=4, strength=0.2,
         callback_on_step_end=lambda p, i, t, kw: steps.append(i) or kw)
    # no error, and at most a leftover step of PNDM's schedule instead of the share the learner asked for
    assert len(steps) <= 1


def test_13_negative_guidance_scale():
    with pytest.raises(ValueError, match="guidance_scale=-2 is negative"):
        checks.check_guidance(-2)


def test_14_x4_noise_level_above_its_maximum():
    with pytest.raises(ValueError, match=r"noise_level=400 is outside \[0, 350\].*default 20"):
        checks.check_noise_level(400, 350)


def test_15_prompt_longer_than_77_tokens_shows_what_is_cut():
    from transformers import CLIPTokenizer

    tok = CLIPTokenizer.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5", subfolder="tokenizer")
    prompt = "astronaut " * 80 + "in a pink jungle"
    with pytest.warns(checks.PromptTruncatedWarning, match="these words are ignored: '.*pink jungle'"):
        n = checks.check_prompt_length(tok, prompt)
    assert n > 77
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert checks.check_prompt_length(tok, "a short prompt") < 77


def test_16_compel_embeddings_of_different_lengths():
    with pytest.raises(ValueError, match=r"prompt_embeds \(1, 154, 32\) and negative_prompt_embeds \(1, 77, 32\).*"
                                         r"pad_conditioning_tensors_to_same_length"):
        checks.check_embeds(torch.zeros(1, 154, 32), torch.zeros(1, 77, 32))


# ---------------------------------------------------------------- chaining


def test_17_latents_between_pipelines_with_different_vaes():
    from diffusers import AutoPipelineForImage2Image

    from helpers.chain import check_latents_compatible

    sd = AutoPipelineForImage2Image.from_pretrained("stable-diffusion-v1-5/stable-diffusion-v1-5")
    kandinsky = AutoPipelineForImage2Image.from_pretrained("kandinsky-community/kandinsky-2-2-decoder")
    with pytest.raises(ValueError, match="output_type='pil'"):
        check_latents_compatible(sd, kandinsky)


def test_18_x2_upscaler_given_a_single_latent_without_batch_axis():
    with pytest.raises(ValueError, match=r"image is a 3-D tensor \(4, 64, 64\).*output.images"):
        checks.check_latent_batch(torch.zeros(4, 64, 64))
    checks.check_latent_batch(torch.zeros(1, 4, 64, 64))


# ---------------------------------------------------------------- models and machine


def test_19_unknown_repo_id():
    with pytest.raises(UnknownCheckpointError, match="Did you mean 'nitrosocke/elden-ring-diffusion'"):
        checkpoint("nitrosocke/eldenring-diffusion")


@pytest.mark.parametrize(("dead", "alive"), [
    ("runwayml/stable-diffusion-v1-5", "stable-diffusion-v1-5/stable-diffusion-v1-5"),
    ("lllyasviel/control_v11flip_sd15_depth", "lllyasviel/control_v11f1p_sd15_depth"),
])
def test_20_dead_or_typod_book_id(dead, alive):
    with pytest.raises(DeadRepoIdError, match=f"Use repo_id='{alive}' instead"):
        checkpoint(dead)


def test_21_hub_mode_offline_without_cache():
    with pytest.raises(HubUnavailableError, match="set TUTORIAL_MODELS=twins"):
        decide("hub", ["stable-diffusion-v1-5/stable-diffusion-v1-5"], reachable=False, cached=False)


def test_22_fp16_on_cpu_runs_in_fp32_and_says_so(capsys):
    assert pick_dtype("cpu", torch.float16) == torch.float32
    assert "float16 asked for on cpu: running in float32" in capsys.readouterr().out
    assert pick_dtype("cpu", torch.bfloat16) == torch.float32
    assert "bfloat16 asked for on cpu" in capsys.readouterr().out  # the dtype asked for, by its name


class _FakePipe:
    dtype = torch.float32

    def __init__(self):
        self.components = {"unet": torch.nn.Linear(2, 2)}

    def to(self, *a, **k):
        return self

    def enable_model_cpu_offload(self):
        raise RuntimeError("torch.cuda is not available")  # what diffusers does on a CPU

    def enable_xformers_memory_efficient_attention(self):
        raise ModuleNotFoundError("No module named 'xformers'")


def test_23_offload_with_no_accelerator():
    with pytest.raises(ValueError, match="offload"):
        fit_to_machine(_FakePipe(), "cpu", offload="always", verbose=False)


def test_24_xformers_missing_or_not_on_cuda():
    with pytest.raises(ValueError, match="attention"):
        fit_to_machine(_FakePipe(), "cpu", attention="xformers", verbose=False)


# ---------------------------------------------------------------- image loading


def test_25_url_that_fails(monkeypatch):
    def refuse(url):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(images, "_download", refuse)
    with pytest.raises(ConnectionError, match="could not be downloaded.*pass its local path"):
        images.load_image_file("https://example.invalid/cat.png")


def test_26_url_that_is_not_an_image(monkeypatch):
    monkeypatch.setattr(images, "_download", lambda url: b"<!doctype html><html>a page</html>")
    with pytest.raises(ValueError, match="did not return an image.*not to the web page"):
        images.load_image_file("https://example.org/cat")


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x.png", "data:image/png;base64,AAAA"])
def test_27_non_http_url_schemes(url):
    with pytest.raises(ValueError, match="only http\\(s\\) URLs and local paths are accepted"):
        images.load_image_file(url)


# ---------------------------------------------------------------- twin builder


def test_28_full_disk_while_building_twins(tmp_path, monkeypatch):
    from helpers.twins import TwinBuildError, ensure_built
    from helpers.twins import build as builder

    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))

    def full(dest, src, log=print, repos=None):
        os.makedirs(dest)
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(builder, "build_cache", full)
    with pytest.raises(TwinBuildError, match="disk is full.*TUTORIAL_CACHE"):
        ensure_built(log=lambda m: None)
    assert not list((tmp_path / "twins").glob("hub*"))


def test_29_two_processes_building_at_once_build_once(tmp_path):
    script = textwrap.dedent("""
        import sys, time, json
        from pathlib import Path
        from helpers.twins import build as builder, ensure_built
        def slow(dest, src, log=print, repos=None):
            Path(dest).mkdir(parents=True)
            time.sleep(1.5)
            (Path(dest) / "who.txt").write_text(sys.argv[1])
        builder.build_cache = slow
        hub = ensure_built(log=lambda m: print("BUILT", flush=True))
        print("USING", (hub / "who.txt").read_text())
    """)
    env = {**os.environ, "TUTORIAL_CACHE": str(tmp_path)}
    procs = [subprocess.Popen([sys.executable, "-c", script, name], stdout=subprocess.PIPE, text=True, env=env)
             for name in ("a", "b")]
    outs = [p.communicate(timeout=60)[0] for p in procs]
    assert sum("BUILT" in o for o in outs) == 1  # one built, the other waited for the lock and reused it
    assert len({o.split("USING")[1].strip() for o in outs}) == 1


# test_30 (an interrupted build) is tests/test_twins.py::test_failed_build_leaves_no_half_built_cache


# ---------------------------------------------------------------- sliders
# test_31 (an error during a run) and test_32 (Stop during a run) are in tests/test_panel.py


def test_33_check_call_catches_the_slider_mistakes_before_torch():
    with pytest.raises(ValueError, match="num_inference_steps"):
        checks.check_call(num_inference_steps=3, strength=0.2, guidance_scale=7.5)
    assert checks.check_call(num_inference_steps=20, strength=0.5, guidance_scale=7.5)["strength"] == 0.5


# ---------------------------------------------------------------- safe defaults


def test_34_pickle_only_checkpoint_is_refused_unless_named():
    from helpers.loading import PickleWeightsError, choose

    only_pickle = ["model_index.json", "unet/diffusion_pytorch_model.bin", "vae/diffusion_pytorch_model.bin"]
    with pytest.raises(PickleWeightsError, match='unet, vae.*load_args\\("someone/model", '
                                                 'allow_pickle="someone/model"\\)'):
        choose("someone/model", only_pickle, ["unet", "vae"])
    chosen = choose("someone/model", only_pickle, ["unet", "vae"], allow_pickle=True)
    assert chosen.kwargs == {"variant": None, "use_safetensors": False}
    with pytest.raises(ValueError, match="allow_pickle='ogkalu/Comic-Diffusion' must name the repo"):
        from helpers.loading import load_args

        load_args("nitrosocke/elden-ring-diffusion", allow_pickle="ogkalu/Comic-Diffusion")


def test_35_a_repo_with_safetensors_needs_no_opt_in_and_a_pickle_only_twin_refuses():
    from helpers.loading import PickleWeightsError, choose, load_args

    both = ["unet/diffusion_pytorch_model.bin", "unet/diffusion_pytorch_model.safetensors"]
    assert choose("someone/model", both, ["unet"]).kwargs == {"variant": None, "use_safetensors": True}
    with pytest.raises(PickleWeightsError, match="elden-ring-diffusion ships only pickle"):
        load_args("nitrosocke/elden-ring-diffusion")  # the twin ships .bin only, like the real repo


# ---------------------------------------------------------------- speed policy and full-size twins


def test_36_compile_without_fast_mode_or_with_offload():
    from helpers.policy import Machine, plan

    gpu = Machine("cuda", "small GPU", 10**9, (8, 6))
    with pytest.raises(ValueError, match="fast=True, compile=True"):
        fit_to_machine(_FakePipe(), "cpu", compile=True, verbose=False)
    with pytest.raises(ValueError, match="offload='never'"):
        plan(gpu, weights_bytes=2 * 10**9, dtype=None, fast=True, compile=True)


def test_37_unknown_trick_is_refused():
    with pytest.raises(ValueError, match="not one of .*tiny_vae"):
        fit_to_machine(_FakePipe(), "cpu", tricks=("tiny-vae",), verbose=False)
    with pytest.raises(TypeError, match=r"tricks=\('tiny_vae',\)"):
        fit_to_machine(_FakePipe(), "cpu", tricks="tiny_vae", verbose=False)


def test_38_full_size_twins_that_do_not_fit_on_the_disk(tmp_path, monkeypatch):
    import shutil
    from collections import namedtuple

    from helpers.twins import TwinBuildError
    from tools.full_size import ensure_full_built

    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**10, 10**10 - 10**9, 10**9))
    with pytest.raises(TwinBuildError, match=r"need about 8\.2 GB .* 1\.0 GB are free.*--only"):
        ensure_full_built(["stable-diffusion-v1-5/stable-diffusion-v1-5"], log=lambda m: None)
    assert not list((tmp_path / "twins" / "full" / "hub").iterdir())  # nothing was written


def test_39_full_size_twin_without_a_recipe(tmp_path, monkeypatch):
    from tools.full_size import ensure_full_built

    monkeypatch.setenv("TUTORIAL_CACHE", str(tmp_path))
    with pytest.raises(ValueError, match="no full-size recipe; choose from: stable-diffusion-v1-5"):
        ensure_full_built(["ogkalu/Comic-Diffusion"], log=lambda m: None)


def test_40_gpu_tests_without_cuda(monkeypatch):
    import conftest

    class Asked:  # a session started with --gpu
        def getoption(self, name):
            return name == "--gpu"

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(pytest.UsageError, match="--gpu runs the CUDA-only tests, but torch sees no CUDA device"):
        conftest.check_gpu_option(Asked())
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    conftest.check_gpu_option(Asked())  # on a GPU machine the same option runs tests/gpu


def test_readme_counts_the_catalogue_as_it_is():
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    rows = re.findall(r"^\| (\d+) \|", (root / "docs" / "errors.md").read_text(encoding="utf-8"), re.MULTILINE)
    said = re.search(r"docs/errors\.md\)\s+lists (\d+) bad inputs", (root / "README.md").read_text(encoding="utf-8"))
    assert said and int(said.group(1)) == len(rows) == int(rows[-1]), "README's count of docs/errors.md is stale"
