"""From a twenty-first probe: notes that read the value given (captions=), the machine (a Windows path), a pipeline
bound to its own picture, custom_pipeline= offline, compel's .and() rows, and helpers refusing what they cannot use."""

import os

import pytest
from conftest import checked_pipes, noted, raised, run_cell
from PIL import Image, ImageOps

PHOTO = Image.new("RGB", (64, 64), (150, 90, 40))


@pytest.fixture(scope="module")
def pipes():
    yield from checked_pipes()


def test_a_list_of_texts_under_titles_is_sent_to_captions_and_a_list_title_is_refused():
    from helpers.grid import captioned_grid, true_size_row

    meaning, fix = noted(lambda: captioned_grid([PHOTO, PHOTO.copy()], titles=["result", "start"]))
    assert "captioned_grid takes no titles=" in meaning and "one text per picture is captions=" in meaning
    assert fix == "captioned_grid(images, captions=['result', 'start'])." and "title=" not in fix
    labels = ("result", "start")
    assert "captions=['result', 'start']" in noted(lambda: captioned_grid([PHOTO, PHOTO.copy()], titles=labels))[1]
    grid = captioned_grid([PHOTO, PHOTO.copy()], captions=["result", "start"], twin=False)  # the fix draws both
    assert grid.width == 128 and grid.height > 64
    assert noted(lambda: captioned_grid([PHOTO], titel="one"))[1] == "did you mean title=?"  # one text: a typo
    for call in (lambda: captioned_grid([PHOTO, PHOTO], title=["result", "start"]),
                 lambda: true_size_row([PHOTO, PHOTO], title=("a", "b"))):
        err = raised(call)
        assert isinstance(err, TypeError) and "title is one text over the whole grid; one label per picture goes " \
            "in captions=[...]" in str(err)
    assert captioned_grid([PHOTO], title="one line", twin=False).height > 64


def test_a_windows_path_on_linux_is_told_the_machine_and_a_missing_folder_names_the_working_folder(
        tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    meaning, fix = noted(lambda: PHOTO.save("C:/Users/me/Desktop/astronaut.png"))
    if os.name != "nt":
        assert "'C:/Users/me/Desktop/astronaut.png' is a Windows path, but this kernel runs on" in meaning
        assert "no C: drive" in meaning and "mkdir" not in fix
        assert fix == "save under a name here, image.save('astronaut.png'), and download it (Colab: the Files panel)."
        assert "upload the file" in noted(lambda: Image.open("C:\\Users\\me\\cat.png"))[1]
        assert not (tmp_path / "C:").exists()
        PHOTO.save("astronaut.png")  # the fix
        assert (tmp_path / "astronaut.png").is_file()
    meaning, fix = noted(lambda: PHOTO.save("no_such_folder/x.png"))
    assert "no_such_folder does not exist" in meaning and str(tmp_path) in fix and "notebooks/" not in fix


def test_a_pipeline_bound_to_its_own_picture_is_told_to_load_again():
    pipeline = PHOTO
    meaning, fix = noted(lambda: pipeline("Astronaut in a jungle", strength=0.6))
    assert meaning.startswith("pipeline now holds a picture (a PIL Image), not the pipeline: a cell assigned a "
                              "pipeline's result to the pipeline's own name (pipeline = pipeline(...).images[0])")
    assert "run the cell that loads the pipeline again" in fix and "image = pipeline(...).images[0]" in fix
    photo = PHOTO
    assert noted(lambda: photo((32, 32))) == ("", "")  # a picture never a pipeline: not this habit
    names = {"drawing": PHOTO, "In": ["", "drawing = drawing('a cat').images[0]"]}  # the kernel's own history
    err = raised(lambda: run_cell("out = drawing('a cat', strength=0.6)\n", names))
    from helpers.notes import note_for

    assert note_for(err)[0].startswith("drawing now holds a picture")
    names["In"] = [""]
    assert note_for(raised(lambda: run_cell("out = drawing('a cat')\n", names, 2))) is None


def test_fit_to_machine_refuses_what_is_not_a_diffusers_pipeline():
    import json
    from pathlib import Path

    from helpers.speed import fit_to_machine

    depth = type("DepthEstimationPipeline", (), {"__module__": "transformers.pipelines.depth_estimation"})()
    err = raised(lambda: fit_to_machine(depth, "cpu"))
    assert isinstance(err, TypeError) and "got a transformers DepthEstimationPipeline" in str(err)
    assert "placed by its own device= argument" in str(err) and "components" not in str(err)
    assert "Load it first" in str(raised(lambda: fit_to_machine("stable-diffusion-v1-5/stable-diffusion-v1-5")))
    assert "model.to(device)" in str(raised(lambda: fit_to_machine(object(), "cpu")))
    chapter = Path(__file__).resolve().parents[1] / "notebooks" / "04_controlling_generation.ipynb"
    source = "".join("".join(c["source"]) for c in json.loads(chapter.read_text(encoding="utf-8"))["cells"])
    assert "depth_estimator = transformers_pipeline(" in source and "device=device" in source


def test_load_image_file_with_size_is_told_to_resize_after(tmp_path):
    from helpers.images import load_image_file

    path = tmp_path / "photo.png"
    PHOTO.save(path)
    meaning, fix = noted(lambda: load_image_file(path, size=(256, 256)))
    assert meaning.startswith("load_image_file takes no size=")
    assert fix.startswith("load_image_file opens a picture at its own size; resize it after loading: "
                          "load_image_file(path).resize((256, 256)), or ImageOps.fit(photo, (256, 256))")
    assert "size= belongs to load_chapter_image" in fix
    assert load_image_file(path).resize((256, 256)).size == (256, 256)  # both fixes work
    assert ImageOps.fit(load_image_file(path), (256, 256)).size == (256, 256)


def test_the_chapters_changed_positions_on_an_and_tensor_is_told_to_pad(pipes):
    import torch
    from compel import Compel

    from helpers.notes import note_for

    t2i = pipes["t2i"]
    compel = Compel(tokenizer=t2i.tokenizer, text_encoder=t2i.text_encoder)
    cell = ("def changed_positions(embeds, reference):\n"
            "    moved = (embeds - reference).abs().amax(dim=-1)[0] > 1e-4\n"
            "    return moved.nonzero().flatten().tolist()\n")
    names = {"compel": compel, "torch": torch}
    run_cell(cell, names, 3)
    with torch.no_grad():
        plain = compel("astronaut in a jungle")
        both = compel('("astronaut in a jungle", "cold color palette, muted colors").and()')
    assert both.shape[1] == 154 and plain.shape[1] == 77
    meaning, fix = note_for(raised(lambda: names["changed_positions"](both, plain)))
    assert "compel gives 77 rows per part" in meaning and "(154 here), and a plain prompt 77 (77 here)" in meaning
    assert fix.startswith("pad them to one length first: a, b = compel.pad_conditioning_tensors_to_same_length([a, b])")
    a, b = compel.pad_conditioning_tensors_to_same_length([both, plain])  # the fix
    assert a.shape == b.shape and isinstance(names["changed_positions"](a, b), list)
    other = raised(lambda: torch.zeros(1, 154, 8) - torch.zeros(1, 100, 8))  # not compel's 77-row parts
    assert "compel" not in " ".join(note_for(other) or ())


def test_custom_pipeline_offline_is_told_it_fetches_code_and_where_long_prompts_go():
    from diffusers import DiffusionPipeline

    from helpers.loading import load_args

    sd = "stable-diffusion-v1-5/stable-diffusion-v1-5"
    meaning, fix = noted(lambda: DiffusionPipeline.from_pretrained(sd, custom_pipeline="lpw_stable_diffusion",
                                                                   **load_args(sd)))
    assert meaning.startswith("custom_pipeline='lpw_stable_diffusion' asks diffusers to download a community "
                              "pipeline's Python code")
    assert "remote code, which this tutorial never runs by default" in meaning and "cannot be fetched" in meaning
    assert "truncate_long_prompts=False" in fix and "prompt_embeds=compel(prompt)" in fix


def test_an_out_name_split_at_its_space_is_told_to_take_quotes(capsys):
    from tools import sweep

    def refused(argv) -> str:
        with pytest.raises(SystemExit):
            sweep._arguments(argv)
        return capsys.readouterr().err

    err = refused(["--guidance", "5", "--out", "build/my", "grid.png"])
    assert ('unrecognized arguments: grid.png. Is it the rest of --out\'s file name? A name with a space needs '
            'quotes: --out "build/my grid.png"') in err
    assert "--prompt" not in err
    err = refused(["--out=my", "big", "grid.png", "--prompt", "a castle"])
    assert '--out "my big grid.png"' in err and "unrecognized arguments: --prompt a castle. The command renders" in err
    assert "Is it the rest" not in refused(["castle", "--out", "x.png"])
