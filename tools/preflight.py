"""Pre-flight: check every `from_pretrained` the chapter notebooks make against the repos' file listings.

    python -m tools.preflight             # the Hub's live listings (no weights downloaded)
    python -m tools.preflight --recorded  # the recorded manifests (helpers/manifests.json), offline

It reads the notebooks' code, finds each `from_pretrained` (and the depth-estimation `pipeline(model=...)`), works
out the arguments it gets from `load_args` on a CUDA machine (float16) and on a CPU (float32) -- the files decide
`variant=` and `use_safetensors=`, so only the dtype differs -- and checks them with diffusers' own file-selection
rules: a variant the repo lacks, or safetensors that are not there, fail here instead of on a learner's GPU. A call
that writes those arguments by hand fails too, and so does a live listing that differs from the record (the twins
follow the record). The exit status is non-zero on any failure.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from helpers.loading import PickleWeightsError, compare_with_record, decide, hub_listing
from helpers.manifests import component_folders, record, recorded_files, recorded_repos
from helpers.paths import PROJECT_ROOT

PIPELINE_LOADERS = ("AutoPipelineFor", "Pipeline")  # class names of pipeline loaders end or start like this
TARGETS = (("CUDA", "float16"), ("CPU", "float32"))


@dataclass
class Call:
    """One from_pretrained (or transformers pipeline) call found in a notebook (maintainer tool)."""

    notebook: str
    cell: int
    loader: str
    repo_id: str
    allow_pickle: str | None = None
    passed: tuple[str, ...] = ()
    uses_load_args: bool = False
    written: dict = field(default_factory=dict)  # variant= / use_safetensors= written by hand
    load_args_repo: str | None = None  # the repo load_args(...) was asked about
    given: tuple[str, ...] = ()  # keyword arguments of the call (components passed in, e.g. vae=)


def _literal(node, names: dict[str, object]):
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return names.get(node.id)
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(_literal(n, names) for n in node.elts)
    return None


def _load_args_call(node) -> ast.Call | None:
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "load_args":
        return node
    return None


def _from_load_args(call: Call, node: ast.Call, names: dict) -> None:
    call.uses_load_args = True
    call.load_args_repo = _literal(node.args[0], names) if node.args else None
    keywords = {k.arg: _literal(k.value, names) for k in node.keywords}
    call.allow_pickle = keywords.get("allow_pickle")
    call.passed = tuple(keywords.get("passed") or ())


def _calls_in(statement: ast.stmt, notebook: str, cell: int, names: dict) -> list[Call]:
    """The from_pretrained and transformers pipeline(model=...) calls in one statement."""
    found = []
    for node in ast.walk(statement):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        is_from_pretrained = isinstance(func, ast.Attribute) and func.attr == "from_pretrained"
        model_kw = {k.arg: k.value for k in node.keywords if k.arg}
        is_hf_pipeline = getattr(func, "id", "").endswith("pipeline") and "model" in model_kw
        if not (is_from_pretrained or is_hf_pipeline):
            continue
        repo_node = node.args[0] if is_from_pretrained and node.args else model_kw.get("model")
        repo = _literal(repo_node, names)
        loader = getattr(func.value, "id", "?") if is_from_pretrained else "transformers.pipeline"
        call = Call(notebook, cell, loader, repo if isinstance(repo, str) else "?", given=tuple(model_kw))
        for keyword in node.keywords:
            inner = _load_args_call(keyword.value)
            if inner is not None and keyword.arg in (None, "model_kwargs"):
                _from_load_args(call, inner, names)
            elif keyword.arg in ("variant", "use_safetensors"):
                call.written[keyword.arg] = ast.unparse(keyword.value)
        found.append(call)
    return found


def notebook_calls(folder: Path | None = None) -> list[Call]:
    """Every from_pretrained in the chapter notebooks, with the repo and load_args options it uses (maintainer tool)."""
    folder = folder or PROJECT_ROOT / "notebooks"
    calls = []
    for path in sorted(folder.glob("[0-9][0-9]_*.ipynb")):
        names: dict[str, object] = {}
        cells = json.loads(path.read_text())["cells"]
        for index, cell in enumerate(cells):
            if cell["cell_type"] != "code":
                continue
            for statement in ast.parse("".join(cell["source"])).body:  # in order: a name means its value so far
                calls += _calls_in(statement, path.stem, index, names)
                for node in ast.walk(statement):  # then note simple `name = "literal"` assignments
                    if (isinstance(node, ast.Assign) and len(node.targets) == 1
                            and isinstance(node.targets[0], ast.Name)):
                        value = _literal(node.value, names)
                        if isinstance(value, str):
                            names[node.targets[0].id] = value
    return calls


def diffusers_accepts(model_class: str | None, files: list[str], folders: list[str], passed: tuple[str, ...],
                      kwargs: dict) -> str | None:
    """None if diffusers' (or transformers') own rules find the files these kwargs ask for, else why (maintainer tool).

    `model_class` is the record's class for a single model at the repo root, None for a pipeline.
    """
    variant, use_safetensors = kwargs["variant"], kwargs["use_safetensors"]
    if model_class is not None:
        import diffusers

        diffusers_model = hasattr(diffusers, model_class)
        stem = "diffusion_pytorch_model" if diffusers_model else "model" if use_safetensors else "pytorch_model"
        name = f"{stem}{'.' + variant if variant else ''}.{'safetensors' if use_safetensors else 'bin'}"
        return None if name in files else f"{name} is not in the repo"
    from diffusers.pipelines.pipeline_loading_utils import is_safetensors_compatible, variant_compatible_siblings
    from diffusers.utils import logging

    logging.set_verbosity_error()  # its "mixture of fp16 and non-fp16 files" note is expected for some repos
    ignore = ["*.bin", "*.msgpack", "*.onnx", "*.pb"] if use_safetensors else ["*.safetensors", "*.msgpack"]
    if use_safetensors and not is_safetensors_compatible(files, passed_components=list(passed),
                                                         folder_names=set(folders), variant=variant):
        return f"diffusers finds no safetensors for every component (variant={variant!r})"
    try:
        variant_compatible_siblings(files, variant=variant, ignore_patterns=ignore)
    except ValueError as err:
        return f"diffusers: {err}".strip()
    return None


def _call_problems(call: Call) -> list[str]:
    """What is wrong with how the notebook writes the call, whatever the files say."""
    problems = []
    if call.written:
        problems.append(f"writes {', '.join(f'{k}={v}' for k, v in call.written.items())} by hand; "
                        "use **load_args(repo_id) so the files decide")
    if not call.uses_load_args:
        problems.append("does not take its variant/use_safetensors from load_args")
    elif call.load_args_repo != call.repo_id:
        problems.append(f"load_args is asked about {call.load_args_repo!r} but the call loads {call.repo_id!r}")
    missing = set(call.passed) - set(call.given)
    if missing:
        problems.append(f"load_args(passed=...) names {sorted(missing)}, which the call does not pass in")
    return problems


def check_call(call: Call, listing) -> dict:
    """Decide and check one call with `listing(repo) -> (files, source)`; return a report row (maintainer tool)."""
    row = {"notebook": call.notebook, "cell": call.cell, "loader": call.loader, "repo": call.repo_id,
           "problems": _call_problems(call)}
    if call.repo_id not in recorded_repos():
        row["problems"].append("the repo id could not be read from the notebook, or it has no recorded manifest")
        return row
    try:
        choice = decide(call.repo_id, allow_pickle=call.allow_pickle, passed=call.passed, listing=listing)
        loads_with = record(call.repo_id).get("loads_with", {}).get("repo")
        others = [decide(loads_with, listing=listing)] if loads_with else []  # AutoPipeline loads it too
    except (PickleWeightsError, FileNotFoundError, ValueError) as err:
        row["problems"].append(str(err))
        return row
    row.update(kwargs=choice.kwargs, source=choice.source,
               files=[*choice.files, *(f"{o.repo_id}: {f}" for o in others for f in o.files)])
    sizes = [choice.download_bytes, *(o.download_bytes for o in others)]
    row["bytes"] = None if None in sizes else sum(sizes)
    files, _ = listing(call.repo_id)
    folders = [f for f in component_folders(call.repo_id) if f not in call.passed]
    model_class = record(call.repo_id).get("model")
    reason = diffusers_accepts(model_class, list(files), folders, call.passed, choice.kwargs)
    if reason:
        row["problems"].append(reason)
    return row


def listing_for(repo_id: str, recorded: bool) -> tuple[dict[str, int | None], str]:
    """The file listing to check against: the record, or the Hub's live listing (maintainer tool)."""
    if recorded:
        return recorded_files(repo_id), "recorded manifest"
    listing = hub_listing(repo_id)
    if listing is None:
        raise ConnectionError(f"the Hub's listing of {repo_id} could not be read; check the network or HF_TOKEN, "
                              "or run `python -m tools.preflight --recorded` to check against the record.")
    return listing, "Hub listing"


def run(recorded: bool, calls: list[Call] | None = None, listing=None) -> list[dict]:
    """Check every notebook call; live listings are also compared with the record (maintainer tool)."""
    fetch = listing or listing_for
    listings: dict[str, tuple] = {}

    def cached(repo_id: str):
        if repo_id not in listings:
            listings[repo_id] = fetch(repo_id, recorded)
        return listings[repo_id]

    rows = [check_call(call, cached) for call in (calls if calls is not None else notebook_calls())]
    if not recorded:
        for repo, (files, _) in listings.items():
            drift = compare_with_record(repo, files)
            if drift:
                rows.append({"notebook": "-", "cell": "-", "loader": "record", "repo": repo,
                             "problems": [f"the Hub's listing differs from helpers/manifests.json: {' '.join(drift)}; "
                                          "update the record (and so the twins)"]})
    return rows


def _gb(n: int | None) -> str:
    return "?" if n is None else f"{n / 1e9:.2f} GB"


def report(rows: list[dict]) -> str:
    """The rows as a readable table: each call, its arguments on CUDA and CPU, and any problem (maintainer tool)."""
    lines = []
    for row in rows:
        call = "pipeline(model=" if row["loader"] == "transformers.pipeline" else f"{row['loader']}.from_pretrained("
        head = f"{row['notebook']} cell {row['cell']}: {call}{row['repo']!r})"
        if row["loader"] == "record":
            head = f"record check: {row['repo']}"
        lines.append(head)
        if "kwargs" in row:
            args = ", ".join(f"{k}={v!r}" for k, v in row["kwargs"].items())
            for where, dtype in TARGETS:  # the files decide variant/use_safetensors; only the dtype differs
                lines.append(f"    {where:<4} dtype=torch.{dtype}, {args}")
            lines.append(f"    downloads {_gb(row['bytes'])} of weights: {', '.join(row['files'])}  [{row['source']}]")
        for problem in row["problems"]:
            lines.append(f"    FAIL {problem}")
        if not row["problems"]:
            lines.append("    ok")
    failed = sum(bool(r["problems"]) for r in rows)
    lines.append(f"{len(rows)} checks, {failed} failed")
    return "\n".join(lines)


def main(argv=None) -> int:
    """Command line: print the report and return 1 if any check failed (maintainer tool)."""
    parser = argparse.ArgumentParser(prog="python -m tools.preflight", description=__doc__.splitlines()[0])
    parser.add_argument("--recorded", action="store_true",
                        help="check against the recorded manifests instead of the Hub's live listings")
    args = parser.parse_args(argv)
    try:
        rows = run(args.recorded)
    except ConnectionError as err:
        print(f"preflight: {err}", file=sys.stderr)
        return 2
    print(report(rows))
    return 1 if any(r["problems"] for r in rows) else 0


if __name__ == "__main__":
    raise SystemExit(main())
