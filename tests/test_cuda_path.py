"""Each chapter's loading cells, run with a CUDA machine's decisions (TUTORIAL_DECIDE_AS=cuda) against the twins.

A variant or a weight format the real repo lacks fails here, on the CPU, instead of on a learner's GPU: the
twins ship exactly the real repos' weight files. After every loading cell a probe adds up the weights held at that
moment, counted with the real checkpoints' parameter counts in fp16, to give each chapter's peak on a GPU.
"""

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
T4_BUDGET = 12e9  # a free Colab T4 has 16 GB; keep the weights under 12 GB so a run's working memory fits beside


def _models() -> list:
    """Every diffusers or transformers model alive in this process, outermost only."""
    import gc

    from diffusers import ModelMixin
    from transformers import PreTrainedModel

    models = [o for o in gc.get_objects() if isinstance(o, (ModelMixin, PreTrainedModel))]
    inner = {id(m) for model in models for m in list(model.modules())[1:]}  # e.g. CLIPVisionModel in ...WithProjection
    return [m for m in {id(m): m for m in models}.values() if id(m) not in inner]


def _held(before: list) -> list[list]:
    """[repo, folder, dtype, fp16 bytes of the real checkpoint] for each model alive now and not in `before`."""
    from helpers.manifests import recorded_params, recorded_repos

    rows, old = [], {id(m) for m in before}
    for obj in _models():
        if id(obj) in old:
            continue
        path = str(getattr(getattr(obj, "config", None), "_name_or_path", "") or "")
        found = re.search(r"models--([^/]+?)--([^/]+)/snapshots/[^/]+/?(.*)$", path)
        if found:  # a component diffusers loaded from a snapshot folder
            repo, folder = f"{found.group(1)}/{found.group(2)}", found.group(3).strip("/")
        elif path in recorded_repos():  # a model loaded by its repo id
            repo, folder = path, ""
        else:
            continue
        dtype = str(next(obj.parameters()).dtype).replace("torch.", "")
        rows.append([repo, folder, dtype, 2 * recorded_params(repo)[folder]])
    return rows


def loading_runs(monkeypatch) -> dict[str, tuple[list[str], list[list]]]:
    """Run every chapter's setup and load cells as on CUDA, in this process; return each chapter's text and probes.

    The cells run as plain code (they use no magics) in a fresh namespace per chapter, which spares a kernel start
    and a second import of diffusers. Models this process held before are left out of every count (and kept alive,
    so that no new model can take one of their ids). Before each chapter, with the last chapter's namespace dropped
    and the garbage collected (what `%reset -f` does in a kernel), no model of the chapter before may be left.
    """
    import gc
    import warnings

    from helpers import explain

    monkeypatch.setenv("TUTORIAL_DECIDE_AS", "cuda")
    monkeypatch.setenv("TUTORIAL_MODELS", "twins")
    monkeypatch.chdir(NOTEBOOKS[0].parent)  # every chapter runs in notebooks/, as a learner's kernel does
    gc.collect()
    before, results, was_on = _models(), {}, explain._STATE["enabled"]
    try:
        with warnings.catch_warnings():  # a chapter's warning filters stay inside this test
            for path in NOTEBOOKS:
                gc.collect()
                left = _held(before)
                assert left == [], f"models from the chapter before {path.stem} were still held: {left}"
                namespace, texts, probes = {"__name__": "__main__"}, [], []
                for cell in nbformat.read(path, as_version=4).cells:
                    tags = set(cell.metadata.get("tags", []))
                    if cell.cell_type == "code" and tags & {"setup", "load"}:
                        texts.append(_run(cell.source, namespace, f"{path.stem} cell"))
                        if "load" in tags:
                            probes.append(_held(before))
                results[path.stem] = texts, probes
                del namespace
    finally:
        if not was_on:  # the chapters' explain_errors() switched the call checks on for this whole process
            explain.disable()
    return results


def _run(source: str, namespace: dict, name: str) -> str:
    """Run one cell's code in `namespace`; return what it printed."""
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(source, name, "exec"), namespace)
    return out.getvalue()


@pytest.fixture(scope="module")
def runs():
    """Every chapter's loading run, done once for the tests below."""
    mp = pytest.MonkeyPatch()
    try:
        return loading_runs(mp)
    finally:
        mp.undo()


def peak_gb(probes: list[list]) -> float:
    """The largest sum of weights held at once, in GB (10^9 bytes)."""
    return max(sum(row[3] for row in probe) for probe in probes) / 1e9


def test_every_chapter_has_loading_cells():
    for path in NOTEBOOKS:
        tags = [set(c.metadata.get("tags", [])) for c in nbformat.read(path, as_version=4).cells]
        assert sum("load" in t for t in tags) >= 1 and sum("setup" in t for t in tags) == 3, path.name


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_loading_cells_take_cuda_decisions_and_load_in_fp16(runs, name):
    texts, probes = runs[name]
    joined = "\n".join(texts)
    assert "dtype: torch.float16" in joined  # (on a CPU the line adds "decisions as on cuda")
    decisions = re.findall(r"^(\S+): variant=(\S+), use_safetensors=(\w+)", joined, flags=re.M)
    assert decisions, "every load goes through load_args"
    held = [row for probe in probes for row in probe]
    assert held and all(dtype == "float16" for _, _, dtype, _ in held), "a CUDA run loads every weight in fp16"


@pytest.mark.parametrize("name", [p.stem for p in NOTEBOOKS])
def test_every_chapter_fits_a_t4_and_readme_says_so(runs, name):
    peak = peak_gb(runs[name][1])
    assert peak * 1e9 < T4_BUDGET, f"{name} holds {peak:.1f} GB of fp16 weights at once"
    row = next(line for line in (ROOT / "README.md").read_text().splitlines() if f"`{name}.ipynb`" in line)
    assert f"{peak:.1f} GB" in row, f"README's chapter table should say {peak:.1f} GB for {name}: {row}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_deleted_model_is_followed_by_free_memory(path):
    import ast

    loaders = ("from_pretrained", "transformers_pipeline", "Compel")
    cells = ["".join(c.source) for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    models = set()  # names a cell bound to a model or pipeline
    for source in cells:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                call = ast.unparse(node.value.func)
                if call.endswith(loaders) and isinstance(node.targets[0], ast.Name):
                    models.add(node.targets[0].id)
    for source in cells:
        body = ast.parse(source).body
        for i, node in enumerate(body):
            if isinstance(node, ast.Delete) and {t.id for t in node.targets if isinstance(t, ast.Name)} & models:
                after = "".join(ast.unparse(n) for n in body[i + 1:])
                assert "free_memory()" in after, f"{path.name}: `{ast.unparse(node)}` needs free_memory() after it"
