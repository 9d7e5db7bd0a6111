"""From an eighteenth probe: notes for slips around the calls, and the helpers' own inputs."""

import warnings
from pathlib import Path

import pytest
import torch
from conftest import checked_pipes, noted, raised, said
from PIL import Image

START = Image.new("RGB", (64, 64), (120, 80, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_plain_python_around_pictures():
    images = []
    meaning, fix = noted(lambda: images.extend(START))
    assert "images is a list" in meaning and "images.append(picture)" in fix
    pairs = {}
    meaning, fix = noted(lambda: pairs.update(START))  # not a list: no note about lists
    assert "is a list" not in meaning
    grid = (START, [{"seed": 0}])
    meaning, fix = noted(lambda: grid.save("grid.png"))
    assert "grid is a tuple of 2: a picture first, then list" in meaning and "grid, results = run_sweep(...)" in fix
    numbers = (1, 2)
    assert noted(lambda: numbers.save("x")) == ("", "")  # no picture in it: nothing to say about unpacking


def test_matplotlib_and_add_noise_and_scheduler_configs(pipes):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from diffusers import DDIMScheduler

    latents = torch.zeros(1, 4, 8, 8)
    meaning, fix = noted(lambda: plt.imshow(latents[0]))
    assert "4×8×8: channels first" in meaning and "plt.imshow(latents[0, 0])" in meaning and "permute" in fix
    plt.close("all")
    scheduler = pipes["t2i"].scheduler
    meaning, fix = noted(lambda: scheduler.add_noise(latents, torch.randn_like(latents), 500))
    assert "got the number 500" in meaning and "torch.tensor([500])" in fix
    meaning, fix = noted(lambda: DDIMScheduler(**scheduler.config))
    assert "is not one of DDIMScheduler's" in meaning and "DDIMScheduler.from_config(pipeline.scheduler.config)" in fix
    assert "config" not in noted(lambda: DDIMScheduler(use_karras=True))[0]  # a misspelt setting, no config spread


def test_files_and_packages(tmp_path, pipes, monkeypatch):
    from safetensors.torch import load_file

    from helpers.images import load_image_file

    monkeypatch.chdir(tmp_path)
    torch.save({"w": torch.zeros(2)}, "my_unet.safetensors")
    meaning, fix = noted(lambda: load_file("my_unet.safetensors"))
    assert "written by torch.save" in meaning and "torch.load('my_unet.safetensors', weights_only=True)" in fix
    START.save("cat.png")
    err = raised(lambda: load_image_file('"cat.png"'))
    assert "quote marks inside the string" in str(err)
    assert "load_image_file(r'cat.png') (that file is there)" in str(err)
    meaning, fix = noted(lambda: __import__("cv2"))
    assert "%pip install opencv-python-headless" in fix
    (tmp_path / "helpers.py").write_text("x = 1\n")
    err = ImportError("cannot import name 'use_models' from 'helpers' (/x/helpers.py)", name="helpers",
                      path=str(tmp_path / "helpers.py"))
    meaning, fix = noted(lambda: (_ for _ in ()).throw(err))
    assert "a file of your own with the tutorial's package name" in meaning and "rename your helpers.py" in fix
    pipes["t2i"].save_pretrained(tmp_path / "my_sd16", variant="fp16")
    from diffusers import StableDiffusionPipeline

    meaning, fix = noted(lambda: StableDiffusionPipeline.from_pretrained(tmp_path / "my_sd16"))
    assert "was saved with variant='fp16'" in meaning and "variant='fp16'" in fix


def test_transformers_pipeline_under_the_diffusers_name():
    from transformers import pipeline

    meaning, fix = noted(lambda: pipeline("Astronaut in a jungle, cold color palette"))
    assert "transformers' pipeline() function" in meaning and "as transformers_pipeline" in fix
    assert noted(lambda: pipeline("depth-estimaton")) == ("", "")  # a misspelt task: transformers lists them


def test_grids_take_generators():
    from helpers.grid import captioned_grid, true_size_row

    grid = captioned_grid((p for p in [START, START]), captions=(f"s={s}" for s in (1, 2)), rows=1, cols=2, twin=False)
    assert grid.width == 128
    assert true_size_row([START], captions=map(str, [1]), twin=False).width >= 64


def test_compel_quotes_and_a1111_and_and_tokens_no_pipeline_loaded(pipes):
    from helpers.compelcheck import check_compel_text

    words = said(lambda: check_compel_text(None, "('a jungle', 'watercolor').blend(0.7, 0.3)"))
    assert '("a jungle", "watercolor").blend(' in words
    assert said(lambda: check_compel_text(None, '("a jungle", "watercolor").blend(0.7, 0.3)')) == ""
    words = said(lambda: check_compel_text(None, "a jungle AND watercolor"))
    assert '("a jungle", "watercolor").and()' in words
    assert "AND" not in said(lambda: check_compel_text(None, "salt and pepper"))
    assert "AND" not in said(lambda: check_compel_text(None, "a poster saying ROCK AND ROLL"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        words = said(lambda: pipes["t2i"]("a <my-style> castle", height=64, width=64, num_inference_steps=1),
                     only_call_warnings=True)
    assert "<my-style>, a textual-inversion token this pipeline's tokenizer does not know" in words


def test_a_windows_path_a_cuda_file_and_the_tools_folder(tmp_path, monkeypatch):
    import sys

    meaning, fix = noted(lambda: compile('p = "C:\\Users\\me\\cat.png"', "<cell>", "exec"))
    assert "\\U begins a Unicode character code" in meaning and 'r"C:\\Users\\me\\cat.png"' in fix
    assert noted(lambda: compile("p = (", "<cell>", "exec")) == ("", "")  # another syntax error: Python's own words
    torch.save({"w": torch.zeros(1)}, tmp_path / "w.pt")
    err = RuntimeError("Attempting to deserialize object on a CUDA device but torch.cuda.is_available() is False. If "
                       "you are running on a CPU-only machine, please use torch.load with map_location=...")
    assert noted(lambda: (_ for _ in ()).throw(err)) == ("", "")  # torch says it; no "download it again"
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", ".") and "tools" not in p
                                      and not (Path(p) / "tools" / "sweep.py").exists()])
    monkeypatch.delitem(sys.modules, "tools", raising=False)
    monkeypatch.delitem(sys.modules, "tools.sweep", raising=False)
    meaning, fix = noted(lambda: __import__("tools.sweep"))
    assert "tools/ is the tutorial's folder of command-line tools" in meaning and "sys.path.insert(0, " in fix
