"""From a twenty-first probe: slips a cell shows in its names, said before the cell runs."""

import ast
import json
import types
from pathlib import Path

import numpy as np
from conftest import said
from PIL import Image

PHOTO = Image.new("RGB", (64, 64), (150, 90, 40))


def check(source: str, names: dict) -> str:
    """What the cell checks say before `source` runs with `names` as the notebook's."""
    from helpers.cellcheck import check_cell

    return said(lambda: check_cell(source, names))


def test_a_typo_at_the_assignment_is_said_when_the_cell_reads_the_old_name():
    names = {"negative_prompt": "ugly, deformed, blurry", "prompt": "a cat", "pipeline": print, "image": PHOTO,
             "images": [PHOTO], "Image": Image, "seed": 0}
    cell = 'negative_promt = "jungle"\nout = pipeline(prompt, negative_prompt=negative_prompt, image=image)'
    words = check(cell, names)
    assert "This cell sets negative_promt but reads negative_prompt, which still holds 'ugly, deformed, blurry' " \
           "from before: a typo? Write negative_prompt = 'jungle'." in words
    assert check(cell.replace("negative_promt", "negative_prompt"), names) == ""  # the fix
    for right in ("image = images[0]",  # the name read is the value's own
                  "photo = Image.open('x.png')\nphoto",  # read in the cell
                  'negative_prompts = ["jungle"]\nout = pipeline(prompt, negative_prompt=negative_prompt)',  # plural
                  "prompt2 = 'a dog'\nout = pipeline(prompt)",  # a numbered second one
                  "seeds = [1, 2]\nprint(seed)",
                  "negative_promt = 'x'\nout = pipeline(prompt, negative_prompt=negative_promt)"):  # typo read too
        assert check(right, names) == "", right
    # a name that already existed is rebound on purpose; a look-alike that is a function or class is not data
    assert check('negative_promt = "jungle"\nprint(negative_prompt)', {**names, "negative_promt": "x"}) == ""
    assert check("make_mask2 = 1\nmake_masks()", {"make_masks": print}) == ""


def test_a_function_named_on_a_line_of_its_own_is_said_with_the_call_that_runs_it():
    from helpers.device import free_memory, make_generator

    names = {"free_memory": free_memory, "make_generator": make_generator, "Image": Image, "np": np,
             "pipeline": object(), "photo": PHOTO}
    cell = "tmp_pipe = 1\ndel tmp_pipe\nfree_memory"
    assert "free_memory on a line of its own names the function and does not call it: write free_memory()." \
           in check(cell, names)
    assert check(cell + "()", names) == ""
    assert "write make_generator(...)." in check("make_generator\nx = 1", names)  # not last: it does nothing
    for right in ("make_generator",  # the last line shows it: a look at a function that needs arguments
                  "Image\nx = 1", "np\nx = 1", "photo\nx = 1",  # a module, a class, a picture: not functions
                  "free_memory?", "help(free_memory)"):
        assert check(right, names) == "", right
    own = types.FunctionType((lambda: None).__code__, {}, "mine")  # the learner's own: its repr is what is wanted
    assert check("mine", {"mine": own}) == "" and "write mine()" in check("mine\nx = 1", {"mine": own})


def test_a_loop_named_seed_is_said_when_seed_held_the_chapters_value():
    names = {"seed": 0, "pipeline": print, "s": 3}
    cell = "results = {}\nfor seed in [0, 42]:\n    results[seed] = pipeline(seed)"
    words = check(cell, names)
    assert "The loop leaves seed = 42 (it held 0 before this cell) for the cells after it, which read seed; name " \
           "the loop variable s (chapter 1 does): for s in [0, 42]: with s in its body." in words
    assert "seed = 3" in check("for seed in range(4):\n    print(seed)", names)
    assert check(cell.replace("seed", "s"), names) == ""  # the fix
    for right in (cell + "\nseed = 0",  # set back in the cell
                  "for seed in [0, 42]:\n    print(seed)",  # seed did not exist before
                  "for scale in (1.0, 5.0):\n    print(scale)",  # not a seed
                  "def f():\n    for seed in [0, 42]:\n        print(seed)"):  # inside a function: stays there
        assert check(right, {"pipeline": print, "scale": 7.5}) == "", right
    assert check("for seed in [0, 42]:\n    print(seed)", {"seed": "abc"}) == ""
    chapter_one = json.loads((Path(__file__).resolve().parents[1] / "notebooks" / "01_guidance_scale.ipynb")
                             .read_text(encoding="utf-8"))
    assert any("for s in sweep_seeds:" in "".join(c["source"]) for c in chapter_one["cells"])  # as the note says


def test_a_paste_back_with_the_start_picture_first_is_said():
    mask = Image.new("L", (64, 64), 0)
    mask.paste(255, (16, 16, 48, 48))
    result = Image.new("RGB", (64, 64), (20, 200, 20))
    names = {"photo": PHOTO, "init_image": PHOTO, "mask_image": mask, "result": result, "inpaint": print}
    cell = ("res = inpaint(prompt='a cat', image=photo, mask_image=mask_image).images[0]\n"
            "final = Image.composite(photo, res, mask_image)")
    words = check(cell, names)
    assert "Image.composite(photo, res, mask_image) takes photo where the mask is white: with the start picture " \
           "first it keeps the start picture where the model repainted" in words
    assert "Write Image.composite(res, photo, mask_image) (or inpaint.image_processor.apply_overlay(mask_image, " \
           "photo, res))." in words
    assert "Image.composite(result, init_image, mask_image)" in check(
        "final = Image.composite(init_image, result, mask_image)", names)  # by the names alone
    assert check(cell.replace("composite(photo, res", "composite(res, photo"), names) == ""  # the fix
    for right in ('holed = Image.composite(Image.new("RGB", (64, 64), "black"), init_image, mask_image)',  # chapter 5
                  "final = Image.composite(refined, scene_xl, xl_box)",  # chapter 5's refiner paste
                  "final = Image.composite(red, photo, mask_image)",  # a tint over the photo
                  "final = Image.composite(photo, background, mask_image)"):  # a cut-out onto a background
        assert check(right, names) == "", right
    # PIL takes image1 where the mask is white: the fix keeps the repaint inside and the photo outside
    fixed = Image.composite(result, PHOTO, mask)
    assert fixed.getpixel((32, 32)) == (20, 200, 20) and fixed.getpixel((2, 2)) == (150, 90, 40)
    from diffusers.image_processor import VaeImageProcessor

    assert list(VaeImageProcessor().apply_overlay(mask, PHOTO, result).getdata()) == list(fixed.getdata())


def test_a_name_rebound_while_a_panel_keeps_its_old_value_is_said():
    from helpers.panel import Panel

    panel = object.__new__(Panel)  # only its fixed= matters here
    panel.fixed = {"image": PHOTO, "strength": 0.75}
    other = PHOTO.copy()
    names = {"init_image": PHOTO, "panel": panel, "other": other, "strength": 0.75}
    words = check("init_image = other", names)
    assert "The panel made earlier (panel) keeps the old init_image in fixed= (image=), so its Generate goes on " \
           "with the old one. After this cell, give it the new one: panel.fixed['image'] = init_image" in words
    assert check("init_image = other\npanel.fixed['image'] = init_image", names) == ""  # the fix in the same cell
    for right in ("strength = 0.5",  # a number: its identity means nothing
                  "init_image = init_image",  # the same picture
                  "photo = other",  # not in the panel
                  "init_image = other\npanel = Panel(pipeline, fixed={'image': init_image})"):  # a new panel
        assert check(right, names) == "", right
    assert check("init_image = other", {**names, "panel": None}) == ""  # no panel
    panel.fixed["image"] = other
    assert check("init_image = PHOTO", {**names, "init_image": other, "PHOTO": PHOTO}) != ""


def _chapter_cells():
    root = Path(__file__).resolve().parents[1] / "notebooks"
    for path in sorted([*root.glob("*.ipynb"), *root.glob("zh/*.ipynb")]):
        yield path.name, ["".join(c["source"]) for c in json.loads(path.read_text(encoding="utf-8"))["cells"]
                          if c["cell_type"] == "code"]


def test_no_chapter_cell_sets_off_the_name_checks_with_ints_functions_or_a_panel_on_every_name():
    from helpers.panel import Panel

    def mine():
        """A function of the learner's: named on a cell's last line, its repr shows."""

    for chapter, cells in _chapter_cells():
        bound = set()
        for source in cells:
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            bound |= {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}
        for value in (0, mine):  # every name an int (the loops), or a function (lines of their own)
            names = dict.fromkeys(bound, value)
            for source in cells:
                assert check(source, names) == "", (chapter, value, source)
        names = {n: types.SimpleNamespace() for n in bound}  # in order, each name a new object, panels made
        for source in cells:
            assert check(source, names) == "", (chapter, source)
            try:
                tree = ast.parse(source)
            except SyntaxError:
                continue
            for node in tree.body:
                if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                    made = types.SimpleNamespace()
                    fixed = [k for k in ast.walk(node.value) if isinstance(k, ast.keyword) and k.arg == "fixed"]
                    if fixed and isinstance(fixed[0].value, ast.Dict):
                        made = object.__new__(Panel)
                        made.fixed = {ast.literal_eval(k): names.get(getattr(v, "id", ""))
                                      for k, v in zip(fixed[0].value.keys, fixed[0].value.values, strict=True)}
                    names[node.targets[0].id] = made
        assert any(isinstance(v, Panel) for v in names.values()) or chapter.startswith("01"), chapter
