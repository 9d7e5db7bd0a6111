"""Each chapter's loading cells, run with a CUDA machine's decisions (TUTORIAL_DECIDE_AS=cuda) against the twins.

A variant or a weight format the real repo lacks fails here, on the CPU, instead of on a learner's GPU: the
twins ship exactly the real repos' weight files. After every loading cell a probe adds up the weights held at that
moment, counted with the real checkpoints' parameter counts in fp16, to give each chapter's peak on a GPU.
"""

import json
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
T4_BUDGET = 12e9  # a free Colab T4 has 16 GB; keep the weights under 12 GB so a run's working memory fits beside
PROBE = '''
import gc as _gc, json as _json, re as _re
from diffusers import ModelMixin as _ModelMixin
from transformers import PreTrainedModel as _PreTrainedModel
from helpers.manifests import recorded_params as _params, recorded_repos as _repos

def _held():
    models = [o for o in _gc.get_objects() if isinstance(o, (_ModelMixin, _PreTrainedModel))]
    inner = {id(m) for model in models for m in list(model.modules())[1:]}  # e.g. CLIPVisionModel in ...WithProjection
    rows = []
    for obj in {id(m): m for m in models if id(m) not in inner}.values():
        path = str(getattr(getattr(obj, "config", None), "_name_or_path", "") or "")
        found = _re.search(r"models--([^/]+?)--([^/]+)/snapshots/[^/]+/?(.*)$", path)
        if found:  # a component diffusers loaded from a snapshot folder
            repo, folder = f"{found.group(1)}/{found.group(2)}", found.group(3).strip("/")
        elif path in _repos():  # a model loaded by its repo id
            repo, folder = path, ""
        else:
            continue
        dtype = str(next(obj.parameters()).dtype).replace("torch.", "")
        rows.append([repo, folder, dtype, 2 * _params(repo)[folder]])
    return rows

print("HELD " + _json.dumps(_held()))
'''


# Between chapters the one kernel forgets everything the last chapter made; the probe that follows must see no model
RESET = """%reset -f
import gc
gc.collect()
"""


def loading_runs(monkeypatch) -> dict[str, tuple[list[str], list[list]]]:
    """Run every chapter's setup and load cells as on CUDA, in one kernel; return each chapter's text and probes.

    One kernel saves four kernel starts and four imports of diffusers. Each chapter starts from `%reset` (its own
    setup cells import everything again) and a probe that must find no model left from the chapter before.
    """
    monkeypatch.setenv("TUTORIAL_DECIDE_AS", "cuda")
    monkeypatch.setenv("TUTORIAL_MODELS", "twins")
    nb = nbformat.v4.new_notebook(metadata=nbformat.read(NOTEBOOKS[0], as_version=4).metadata)
    starts = {}
    for path in NOTEBOOKS:
        nb.cells += [nbformat.v4.new_code_cell(RESET), nbformat.v4.new_code_cell(PROBE)]
        starts[path.stem] = len(nb.cells)
        for cell in nbformat.read(path, as_version=4).cells:
            tags = set(cell.metadata.get("tags", []))
            if cell.cell_type == "code" and tags & {"setup", "load"}:
                nb.cells.append(nbformat.v4.new_code_cell(cell.source))
                if "load" in tags:
                    nb.cells.append(nbformat.v4.new_code_cell(PROBE))
    folder = str(NOTEBOOKS[0].parent)  # every chapter runs in notebooks/, as a learner's kernel does
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": folder}}).execute()
    results, bounds = {}, [*starts.values(), len(nb.cells) + 2]
    for (name, first), end in zip(starts.items(), bounds[1:], strict=True):
        left = _stdout(nb.cells[first - 1])
        assert left == "HELD []\n", f"models from the chapter before {name} were still held: {left}"
        texts, probes = [], []
        for cell in nb.cells[first:end - 2]:
            text = _stdout(cell)
            if text.startswith("HELD "):
                probes.append(json.loads(text.splitlines()[0][5:]))
            else:
                texts.append(text)
        results[name] = texts, probes
    return results


def _stdout(cell) -> str:
    return "".join(o.get("text", "") for o in cell.outputs if o.get("name") == "stdout")


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
