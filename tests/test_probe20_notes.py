"""From a twentieth probe: slips a cell's code shows, warnings filtered away, and notes that now confirm their cause."""

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from conftest import checked_pipes, noted, raised, said
from PIL import Image, ImageFilter

PHOTO = Image.new("RGB", (64, 64), (150, 90, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_a_cells_own_code_strings_joined_mid_word_timing_magics_and_8_bit_wrap():
    from helpers.cellcheck import check_cell

    notes = {"photo": PHOTO, "np": np}
    words = said(lambda: check_cell('prompt = ("Astronaut in a jungle" "cold color palette")\nx = 1', notes))
    assert "'junglecold'" in words and "the word 'jungle' is lost" in words
    assert said(lambda: check_cell('prompt = ("Astronaut in a jungle, " "cold color palette")', notes)) == ""
    assert said(lambda: check_cell('url = "https://example.org/" "a/b.png"', notes)) == ""
    # a leading %%time (or %%capture) no longer hides the cell from the checks; %%bash is not Python
    assert "makes a new picture" in said(lambda: check_cell("%%time\nphoto.resize((32, 32))\nprint(1)", notes))
    assert "makes a new picture" in said(lambda: check_cell("%matplotlib inline\nphoto.rotate(90)\nprint(1)", notes))
    assert said(lambda: check_cell("%%bash\nls photo.resize", notes)) == ""
    # a picture made earlier in the same cell is a picture too; rebound to something else, it is not
    words = said(lambda: check_cell("mine = photo.copy()\nmine.resize((32, 32))\nprint(mine.size)", notes))
    assert "Keep it: mine = mine.resize(...)" in words
    assert said(lambda: check_cell("mine = photo.copy()\nmine = {}\nmine.copy()\nprint(1)", notes)) == ""
    # brightening through 8-bit numbers wraps round; clipped, it does not
    words = said(lambda: check_cell("b = Image.fromarray((np.asarray(photo) * 1.3).astype(np.uint8))", notes))
    assert "wrap round" in words and "np.clip(" in words
    assert "wrap round" in said(lambda: check_cell("b = Image.fromarray(np.asarray(photo) + 40)", notes))
    fix = "b = Image.fromarray(np.clip(np.asarray(photo, np.float32) * 1.3, 0, 255).astype(np.uint8))"
    assert said(lambda: check_cell(fix, notes)) == ""
    mask = {"mask": PHOTO.convert("L"), "depth": np.zeros((4, 4)), "np": np, "photo": PHOTO}
    for right in ("inverted = Image.fromarray(255 - np.array(mask))",  # a mask inverted: stays in 0..255
                  "d = (np.array(depth) * 255).astype(np.uint8)",  # a 0..1 map: not a picture's pixels
                  "b = (np.asarray(photo, dtype=float) * 0.5 + 10).astype(np.uint8)",  # darker: no wrap
                  "b = (np.asarray(photo) / 255 * 1.0 * 255).astype(np.uint8)",
                  "m = ((np.asarray(photo) > 128) * 255).astype(np.uint8)",  # a threshold mask
                  "m = np.asarray(mask.convert('1')).astype(np.uint8) * 255"):
        assert said(lambda r=right: check_cell(r, mask)) == "", right
    assert said(lambda: check_cell('prompt = ("一只猫" "坐在窗台上")', notes)) == ""  # Chinese joins with no space
    bright = np.asarray(PHOTO.point(lambda v: 230))
    assert (np.clip(bright.astype(np.float32) * 1.3, 0, 255).astype(np.uint8) == 255).all()  # the fix: no wrap


def test_no_chapter_cell_sets_off_the_cell_checks():
    import ast

    from helpers.cellcheck import check_cell

    root = Path(__file__).resolve().parents[1] / "notebooks"
    for path in sorted([*root.glob("*.ipynb"), *root.glob("zh/*.ipynb")]):
        cells = ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                 if c["cell_type"] == "code"]
        names = {"np": np, "pipeline": None}  # every name the chapter binds, as a picture: the strictest reading
        for source in cells:
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            names.update({t.id: PHOTO for n in ast.walk(tree) if isinstance(n, ast.Assign)
                          for t in n.targets if isinstance(t, ast.Name)})
        for source in cells:
            assert said(lambda c=source, n=names: check_cell(c, n)) == "", (path.name, source)


def test_filterwarnings_ignore_is_said_before_it_hides_the_checks_and_a_hidden_warning_comes_later():
    from helpers.callwarning import CallWarning, ignored_now, said_once_for, warn_call
    from helpers.cellcheck import check_cell

    words = said(lambda: check_cell("import warnings\nwarnings.filterwarnings('ignore')", {}))
    assert "hides every warning from here on, the tutorial's checks too" in words
    assert "warnings.filterwarnings('ignore', category=FutureWarning)" in words
    for quiet in ("warnings.filterwarnings('ignore', category=FutureWarning)",  # the narrow habit: nothing to say
                  "with warnings.catch_warnings():\n    warnings.simplefilter('ignore')\n    x = 1",  # its own block
                  "warnings.filterwarnings('ignore', message='.*local_dir.*')"):
        assert said(lambda q=quiet: check_cell(q, {})) == "", quiet
    owner = type("Pipe", (), {})()
    with warnings.catch_warnings(record=True) as caught:
        warnings.resetwarnings()
        warnings.filterwarnings("ignore")  # the notebook's first line
        assert ignored_now(CallWarning, "x")
        with said_once_for(owner):
            warn_call("mask_image is mostly white")
        assert caught == []  # the filter is the learner's: respected
        warnings.resetwarnings()  # the line taken out, the cell run again: the warning is said now
        assert not ignored_now(CallWarning, "x")
        with said_once_for(owner):
            warn_call("mask_image is mostly white")
    assert [str(w.message) for w in caught] == ["mask_image is mostly white"]


def test_falls_strictly_refuses_a_used_up_generator():
    from helpers.compare import falls_strictly

    dbs = (v for v in (11.7, 15.0, 17.9))
    print(list(dbs))
    err = raised(lambda: falls_strictly(dbs))
    assert isinstance(err, ValueError) and "got 0 values" in str(err) and "if it was read before" in str(err)
    dbs = [11.7, 15.0, 17.9]
    assert falls_strictly(dbs) is False and falls_strictly(reversed(dbs)) is True  # the fix: a list, read twice
    assert "two or more" in str(raised(lambda: falls_strictly([3.0])))


def test_apply_overlay_in_another_order_is_refused(pipes):
    from helpers.images import make_mask

    processor = pipes["img2img"].image_processor
    mask = make_mask((64, 64), box=(16, 16, 48, 48))
    result = Image.new("RGB", (64, 64), (20, 200, 20))
    err = raised(lambda: processor.apply_overlay(PHOTO, mask, result))
    assert isinstance(err, ValueError) and "(mask, init_image, image)" in str(err) and "init_image (the 2nd" in str(err)
    kept = processor.apply_overlay(mask, PHOTO, result)  # the fix: outside the mask the photo is kept
    assert kept.getpixel((2, 2))[:3] == (150, 90, 40) and kept.getpixel((32, 32))[:3] == (20, 200, 20)


def test_padding_mask_crop_given_the_box_is_refused(pipes):
    from diffusers import StableDiffusionInpaintPipeline

    from helpers.callbatch import check_kinds

    inpaint = StableDiffusionInpaintPipeline(**pipes["t2i"].components)
    err = raised(lambda: check_kinds(inpaint, {"padding_mask_crop": (16, 16, 48, 48)}))
    assert isinstance(err, TypeError) and "is a box" in str(err) and "padding_mask_crop=32" in str(err)
    check_kinds(inpaint, {"padding_mask_crop": 32})  # the fix passes


def test_notes_for_an_even_rank_filter_and_a_dict_by_position():
    mask = Image.new("L", (32, 32))
    what, fix = noted(lambda: mask.filter(ImageFilter.MaxFilter(10)))
    assert "MaxFilter(10)" in what and "MaxFilter(9) or MaxFilter(11)" in fix
    mask.filter(ImageFilter.MaxFilter(9))  # the fix runs

    def refine(**changes):
        return changes

    trial = {"guidance_scale": 2.0}
    what, fix = noted(lambda: refine(trial))
    assert "dict trial" in what and fix == "unpack it into keywords: refine(**trial)."
    assert refine(**trial) == trial
    assert noted(lambda: refine([1])) == ("", "")  # not a dict: no guess


def test_a_longer_tokenizer_window_is_named(pipes):
    t2i = pipes["t2i"]
    t2i.tokenizer.model_max_length = 154
    try:
        what, fix = noted(lambda: t2i("a cat", num_inference_steps=1, height=64, width=64))
    finally:
        t2i.tokenizer.model_max_length = 77
    assert "tokenizer.model_max_length was set to 154" in what and "77 positions" in what
    assert "pipeline.tokenizer.model_max_length = 77" in fix and "truncate_long_prompts=False" in fix


def test_load_attn_procs_with_a_lora_file_or_a_path_that_is_not_there(pipes, tmp_path, monkeypatch):
    import torch
    from safetensors.torch import save_file

    monkeypatch.chdir(tmp_path)
    unet = pipes["t2i"].unet
    save_file({"down.to_q_lora.up.weight": torch.zeros(4, 1)}, str(tmp_path / "old_lora.safetensors"))
    what, fix = noted(lambda: unet.load_attn_procs(str(tmp_path / "old_lora.safetensors")))
    assert "only Custom Diffusion weights" in what and "no 'unet.' in front" in what and "peft" in fix
    assert "pipeline.load_lora_weights({'unet.' + k: v for k, v in load_file(" in fix  # what loads such a file
    save_file({"unet.down.lora_A.weight": torch.zeros(4, 1)}, str(tmp_path / "new_lora.safetensors"))
    what, fix = noted(lambda: unet.load_attn_procs(str(tmp_path / "new_lora.safetensors")))
    assert fix.startswith("load a LoRA through the pipeline: pipeline.load_lora_weights('path/to/file.safetensors')")
    what, fix = noted(lambda: unet.load_attn_procs(str(tmp_path / "old_lroa.safetensors")))
    assert "old_lroa.safetensors does not exist" in what and "twins" not in what + fix
    hub = "latent-consistency/lcm-lora-sdv1-5/pytorch_lora_weights.safetensors"  # a repo and a file, joined
    what, fix = noted(lambda: unet.load_attn_procs(hub))
    assert "joins a Hub repo id (latent-consistency/lcm-lora-sdv1-5)" in what
    assert "load_attn_procs('latent-consistency/lcm-lora-sdv1-5', weight_name='pytorch_lora_weights.safetensors')" \
        in fix


def test_make_generator_takes_numpy_integers_as_the_panel_does():
    import torch

    from helpers.device import make_generator

    seeds = [make_generator(s, "cpu") for s in np.arange(2)]
    assert torch.equal(seeds[1].get_state(), make_generator(1, "cpu").get_state())
    assert isinstance(raised(lambda: make_generator(np.float64(1.0), "cpu")), TypeError)


def test_more_captions_than_pictures_points_at_the_loop_that_fills_the_list():
    from helpers.grid import captioned_grid

    images = []
    for _ in range(3):
        picture = PHOTO.copy()
    images.append(picture)  # outdented: only the last picture is kept
    err = raised(lambda: captioned_grid(images, ["a", "b", "c"]))
    assert "images.append(...) outside the loop" in str(err)
    assert "outside the loop" not in str(raised(lambda: captioned_grid([PHOTO, PHOTO], ["a"])))
