"""Parameter sweeps (guidance × seed × strength) split across every process and gathered into one grid.

Run on one process like any script, or on several with accelerate, which starts one process per GPU:
    accelerate launch --multi_gpu --num_processes 2 -m tools.sweep --steps 10
The same command works on a machine without a GPU: the processes then talk over gloo on the CPU (that is how the
tests run it). Each process renders its share of the grid; the main process gathers the pictures and saves one
captioned grid. accelerate's options go before `-m tools.sweep`, the sweep's own after it.

The sweep picks the device itself: CUDA when torch sees a GPU, else the CPU. To force the CPU on a GPU machine, hide
the GPU (`CUDA_VISIBLE_DEVICES= python -m tools.sweep ...`) or launch with `accelerate launch --cpu -m tools.sweep ...`.
"""

from __future__ import annotations

import argparse
import itertools
import numbers
import sys
import time
import warnings
from pathlib import Path

from tools.sweep_slips import OFF_WORDS, after_equals, equals_notes, is_number, sweep_options, unknown_message
from tools.sweep_types import guidance_arg, positive_arg, seed_arg, size_arg

MODEL = "stable-diffusion-v1-5/stable-diffusion-v1-5"
PROMPT = "Astronaut in a jungle, cold color palette, muted colors, detailed, 8k"  # chapter 1's
ABOUT = (f"The command renders chapter 1's prompt ({PROMPT!r}) with SD 1.5 ({MODEL}) as text-to-image; it has no "
         "--prompt, --model or --strength. For your own prompt, model or pipeline, call run_sweep from Python with "
         "a render function: from tools.sweep import run_sweep; grid, _ = run_sweep(lambda guidance_scale, seed: "
         "pipeline('your prompt', guidance_scale=guidance_scale, generator=make_generator(seed)).images[0], "
         "[1, 5, 10], [0, 1]) (strengths=[...] adds a strength axis, for img2img).")


_EXAMPLES = {"guidance_scales": "[1, 5, 10]", "seeds": "[0, 1]", "strengths": "[0.3, 0.6]"}


def _as_list(name: str, values) -> list:
    """One sweep axis as a list: a single number (seeds=0) is refused with the list it meant, seeds=[0]."""
    if name == "strengths" and values is None:  # no strength axis, as the default (None,) says
        return [None]
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        single = isinstance(values, numbers.Real) and not isinstance(values, bool)
        example = f"[{values!r}]" if single else _EXAMPLES[name]
        raise TypeError(f"{name}={values!r} must be a list, e.g. {name}={example}: the sweep makes one "
                        f"{'column' if name == 'guidance_scales' else 'row'} per value in it.")
    return list(values)


def sweep_jobs(guidance_scales, seeds, strengths=(None,)) -> list[dict]:
    """All combinations, one row per (strength, seed) and one column per guidance value (ch. 1)."""
    guidance_scales = _as_list("guidance_scales", guidance_scales)
    seeds = _as_list("seeds", seeds)
    strengths = _as_list("strengths", strengths)
    if not guidance_scales or not seeds or not strengths:
        raise ValueError("guidance_scales, seeds and strengths must each hold at least one value.")
    jobs = []
    for strength, seed, guidance in itertools.product(strengths, seeds, guidance_scales):
        job = {"guidance_scale": float(guidance), "seed": int(seed)}
        if strength is not None:
            job["strength"] = float(strength)
        jobs.append(job)
    return jobs


def caption(job: dict) -> str:
    """Caption for one tile of a sweep grid (ch. 1)."""
    parts = [f"seed {job['seed']}", f"guidance {job['guidance_scale']}"]
    if "strength" in job:
        parts.append(f"strength {job['strength']}")
    return " · ".join(parts)


def _state():
    """accelerate's process state: CUDA when torch sees a GPU, else the CPU (processes meet over gloo there).

    `accelerate launch --cpu` (ACCELERATE_USE_CPU) keeps it on the CPU too; PartialState alone would ignore that."""
    import os

    import torch
    from accelerate import PartialState

    forced = os.environ.get("ACCELERATE_USE_CPU", "").strip().lower() in ("1", "true", "yes", "y", "on")
    return PartialState(cpu=forced or not torch.cuda.is_available())


def run_sweep(render, guidance_scales, seeds, strengths=(None,), state=None):
    """Render every job on the process it falls to and return (grid, ordered results) on the main process (ch. 1).

    `render(**job)` returns a PIL image for one job. Other processes return (None, their own results).
    """
    from accelerate.utils import gather_object

    from helpers.grid import captioned_grid

    state = state or _state()
    jobs = list(enumerate(sweep_jobs(guidance_scales, seeds, strengths)))
    seeds, strengths = _as_list("seeds", seeds), _as_list("strengths", strengths)  # checked by sweep_jobs
    with state.split_between_processes(jobs) as mine:
        local = [(index, job, render(**job), state.process_index) for index, job in mine]
    results = sorted(gather_object(local) if state.num_processes > 1 else local, key=lambda r: r[0])
    if not state.is_main_process:
        return None, local
    grid = captioned_grid([r[2] for r in results], captions=[caption(r[1]) for r in results],
                          rows=len(seeds) * len(strengths), cols=len(guidance_scales))
    _warn_same_seeds(results)
    return grid, results


def _warn_same_seeds(results) -> None:
    """Warn once when two seeds give the same tile at one guidance (and strength): the render ignores its seed."""
    import numpy as np

    first = {}  # (guidance, strength) -> (seed, picture) of the first seed rendered there
    for _index, job, picture, _process in results:
        key = (job["guidance_scale"], job.get("strength"))
        if key not in first:
            first[key] = (job["seed"], picture)
            continue
        seed, other = first[key]
        if seed != job["seed"] and np.array_equal(np.asarray(other), np.asarray(picture)):
            where = f"guidance {job['guidance_scale']}" + (f", strength {key[1]}" if key[1] is not None else "")
            warnings.warn(f"run_sweep: the tiles for seed {seed} and seed {job['seed']} ({where}) are pixel for "
                          "pixel the same, so the render ignores its seed and the grid's seed captions are wrong. "
                          "Seed each call from it: generator=make_generator(seed, device) (helpers.device).",
                          UserWarning, stacklevel=3)
            return


def _output_file(parser, out: Path | None, overwrite: bool = False) -> Path | None:
    """The grid's file for --out: a folder gets sweep.png inside it; a name PIL cannot write is refused (ch. 1).

    An existing file named by --out is refused unless --overwrite: it may be the learner's own picture."""
    from PIL import Image

    if out is None:
        return None
    out = out.expanduser()
    if out.is_dir() or str(out).endswith(("/", "\\")):
        return out / "sweep.png"
    Image.init()
    if out.suffix.lower() not in Image.registered_extensions():
        fixed = out.with_suffix(".png") if out.suffix else out.with_name(out.name + ".png")
        parser.error(f"--out {out}: {out.suffix or 'no extension'} is not a picture format; end the file name with "
                     f".png, e.g. --out {fixed}")
    if out.exists() and not overwrite:
        parser.error(f"--out {out} exists and is kept: pass another name, e.g. --out {_free_name(out)}, or add "
                     "--overwrite to replace it.")
    return out


def _once_each(parser, option: str, values: list) -> None:
    """Refuse a value given twice: the same seed (or guidance) twice makes two identical tiles."""
    repeated = next((v for i, v in enumerate(values) if v in values[:i]), None)
    if repeated is None:
        return
    if option == "--seeds":  # 0 0 was likely meant as 0 1: each repeat moves on to the next unused seed
        fixed = []
        for v in values:
            fixed.append(next(s for s in itertools.count(v) if s not in fixed and (s == v or s not in values)))
    else:
        fixed = list(dict.fromkeys(values))
    shown = " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in fixed)
    parser.error(f"{option} gives {repeated:g} more than once, and the same value twice makes two identical tiles. "
                 f"Give each value once, e.g. {option} {shown}")


def _free_name(path: Path) -> Path:
    """`path`, or the first of path-2, path-3, ... that does not exist yet: an earlier grid is never replaced."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.stem}-{n}{path.suffix}")
    return candidate


_DEFAULTS = {"guidance": [1.0, 5.0, 10.0], "seeds": [0, 1]}


def _is_overwrite(name: str) -> bool:
    """--overwrite as typed, or a prefix argparse takes for it (--ov; --o is also --out's)."""
    return name.startswith("--ov") and "--overwrite".startswith(name)


def _switch_values(argv: list[str]) -> tuple[list[str], list[str]]:
    """Take the values typed after --overwrite out of the command line (--overwrite yes, --overwrite=true).

    The sweep takes no bare values, so every one up to the next option was meant for it. Returns (the command
    line without them, those values)."""
    kept, values, after = [], [], False
    for token in argv:
        name, has_value, value = token.partition("=")
        if _is_overwrite(name):
            kept.append(name)
            values += [value] if has_value else []
            after = True
        elif after and not (token.startswith("-") and not is_number(token)):
            values.append(token)
        else:
            kept.append(token)
            after = False
    return kept, values


def _arguments(argv=None):
    """The command line read and checked, before anything loads: (parser, args), or a usage error (exit 2)."""
    parser = argparse.ArgumentParser(prog="tools.sweep", description=ABOUT)
    # action="extend": a repeated option adds to the list (--seeds 0 --seeds 1 is --seeds 0 1), as argparse's
    # default would keep only the last one without a word
    parser.add_argument("--guidance", type=guidance_arg, nargs="+", action="extend", default=None,
                        help="guidance_scale values, one column each (0 or more; 1 or less is no guidance; "
                             "default 1 5 10)")
    parser.add_argument("--seeds", type=seed_arg, nargs="+", action="extend", default=None,
                        help="seeds, one row each (default 0 1)")
    parser.add_argument("--steps", type=positive_arg, default=20, help="denoising steps per tile, 1 or more")
    parser.add_argument("--size", type=size_arg, default=256,
                        help="one side of the square tiles in pixels, their height and width (a multiple of 8)")
    parser.add_argument("--out", type=Path, default=None,
                        help="where to save the grid (default build/sweep.png, or sweep-2.png, ... if it exists)")
    parser.add_argument("--overwrite", action="store_true", help="replace the file --out names if it exists")
    given, values = _switch_values(sys.argv[1:] if argv is None else list(argv))
    given, strays = after_equals(given)  # --seeds=0 42: argparse would call 42 an unrecognized argument
    args, unknown = parser.parse_known_args(given)
    firsts = equals_notes(strays, args)
    if values:  # --overwrite yes: argparse would call `yes` an unrecognized argument, --overwrite=yes an error
        off = all(v.lower() in OFF_WORDS for v in values)
        args.overwrite = not off
        said = " ".join(values)
        note = (f"--overwrite is a switch that takes no value ({said!r} is not read): "
                + ("leave --overwrite out to keep an existing grid file." if off else
                   "write --overwrite alone to replace an existing grid file (leave it out to keep that file)."))
        parser.error(note + ("\n" + unknown_message(unknown, args, firsts, given) if unknown or firsts else
                             f"\nThat is: python -m tools.sweep{sweep_options(args)}"))
    if unknown or firsts:
        parser.error(unknown_message(unknown, args, firsts, given))
    for name, default in _DEFAULTS.items():  # not given: the default (extend would add to a default list)
        if getattr(args, name) is None:
            setattr(args, name, list(default))
    _once_each(parser, "--seeds", args.seeds)
    _once_each(parser, "--guidance", args.guidance)
    return parser, args


def main(argv=None) -> int:
    """Guidance × seed sweep of the SD 1.5 checkpoint over all processes; saves build/sweep.png (ch. 1)."""
    parser, args = _arguments(argv)
    out = _output_file(parser, args.out, args.overwrite)  # before any rendering: a bad name must not cost the run
    named = out is not None and not (args.out.expanduser().is_dir() or str(args.out).endswith(("/", "\\")))

    from helpers import use_models

    use_models(needs=[MODEL])
    from diffusers import AutoPipelineForText2Image

    from helpers.checks import check_size
    from helpers.device import make_generator, pick_dtype
    from helpers.fingerprint import fingerprint
    from helpers.loading import decide
    from helpers.paths import build_dir

    check_size(args.size, args.size)
    state = _state()
    device = state.device.type
    dtype = pick_dtype(device)
    repo_id = MODEL
    pipeline = AutoPipelineForText2Image.from_pretrained(
        repo_id, dtype=dtype, **decide(repo_id).kwargs  # variant= and use_safetensors= from the repo's files
    ).to(state.device)
    pipeline.set_progress_bar_config(disable=True)
    def render(guidance_scale, seed):
        return pipeline(PROMPT, guidance_scale=guidance_scale, num_inference_steps=args.steps, height=args.size,
                        width=args.size, generator=make_generator(seed, device)).images[0]

    start = time.perf_counter()
    grid, results = run_sweep(render, args.guidance, args.seeds, state=state)
    print(f"process {state.process_index}/{state.num_processes}: rendered "
          f"{sum(1 for r in results if r[3] == state.process_index)} tiles in {time.perf_counter() - start:.1f} s")
    state.wait_for_everyone()
    if state.is_main_process:
        out = out or build_dir() / "sweep.png"
        out.parent.mkdir(parents=True, exist_ok=True)
        if not named and not args.overwrite:  # the default name, or sweep.png in a folder: an earlier grid stays
            out = _free_name(out)
        grid.save(out)
        for index, job, image, rank in results:
            print(f"tile {index}: {caption(job):<28} process {rank}  {fingerprint(image)}")
        print(f"grid {grid.width}x{grid.height} from {state.num_processes} process(es): {Path(out).resolve()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
