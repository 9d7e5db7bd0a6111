"""The sweep's usage error for the options and values it does not take: accelerate's own, --device, diffusers'
names, values after --seeds=, stray values (its argparse types are in tools.sweep_types).

tools.sweep reads its command line with these; every message names the option and a command that works.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tools.sweep_types import guidance_arg, positive_arg, seed_arg, size_arg
from tools.sweep_workers import worker_note

# accelerate launch's own options (accelerate/commands/launch.py; it takes --num-processes as --num_processes too)
ACCELERATE_FLAGS = {"--cpu", "--multi_gpu", "--tpu", "--use_deepspeed", "--use_fsdp", "--same_network", "--debug"}
ACCELERATE_VALUES = {"--num_processes", "--num_machines", "--mixed_precision", "--gpu_ids", "--main_process_port",
                     "--main_process_ip", "--machine_rank", "--config_file", "--num_cpu_threads_per_process",
                     "--dynamo_backend"}
OFF_WORDS = {"no", "n", "false", "off", "0"}


def sweep_options(args, always=()) -> str:
    """The sweep's own options as the learner gave them, for a corrected command, unknown ones left out (ch. 1).

    `always` names options shown even at their default: --steps 20 given under another name stays in the command."""
    shown = []
    for option, values in (("--guidance", args.guidance), ("--seeds", args.seeds)):
        if values is not None:
            shown.append(f"{option} " + " ".join(f"{v:g}" if isinstance(v, float) else str(v) for v in values))
    shown += [f"--steps {args.steps}"] if args.steps != 20 or "--steps" in always else []
    shown += [f"--size {args.size}"] if args.size != 256 or "--size" in always else []
    shown += [f"--out {args.out}"] if args.out is not None else []
    shown += ["--overwrite"] if args.overwrite else []
    return "".join(f" {option}" for option in shown)


_SEVERAL = {"--guidance": guidance_arg, "--seeds": seed_arg}  # the options that take several values
_OPTIONS = ("--guidance", "--seeds", "--steps", "--size", "--out", "--overwrite", "--help")


def _own_option(name: str) -> str | None:
    """The sweep's option that `name` is, or abbreviates as argparse reads it (--seed is --seeds), else None."""
    found = [option for option in _OPTIONS if option.startswith(name)] if len(name) > 2 else []
    return name if name in _OPTIONS else (found[0] if len(found) == 1 else None)


def after_equals(argv: list[str]) -> tuple[list[str], list[tuple[str, str, list[str]]]]:
    """Take the numbers typed after --seeds=0 (or --guidance=5) out of the command line, which '=' leaves (ch. 1).

    argparse gives an option written with '=' that one value. Returns (the command line without the numbers after
    it, [(option, its value after '=', those numbers)])."""
    kept, strays, current = [], [], None
    for token in argv:
        name, has_value, value = token.partition("=")
        if current is not None and is_number(token):
            current[2].append(token)
            continue
        option = _own_option(name) if has_value and name.startswith("--") else None
        current = (option, value, []) if option in _SEVERAL else None
        strays += [current] if current is not None else []
        kept.append(token)
    return kept, [stray for stray in strays if stray[2]]


def equals_notes(strays, args) -> list[str]:
    """Say that with '=' only the first value belongs to the option, and add the others to `args` (ch. 1)."""
    notes = []
    for option, first, values in strays:
        note, read = f"with '=' only the first value belongs to {option}; write {option} {first} {' '.join(values)}", []
        for value in values:
            try:
                read.append(_SEVERAL[option](value))
            except argparse.ArgumentTypeError as error:  # -1 is not a seed: ... (and left out of the command)
                note += f". Also, {error}"
        setattr(args, option[2:], (getattr(args, option[2:]) or []) + read)
        notes.append(note + ".")
    return notes


# other names for the sweep's own options (diffusers' argument names, common short forms), compared in lower case
# without dashes and underscores. --seed and --step need none: argparse takes a prefix of --seeds and --steps.
_OTHER_NAMES = {
    "--guidance": ("guidancescale", "guidancescales", "cfg", "cfgscale", "scale", "g"),
    "--seeds": ("seed", "manualseed", "randomseed"),
    "--steps": ("numinferencesteps", "inferencesteps", "numsteps", "nsteps", "samplingsteps", "denoisingsteps"),
    "--size": ("height", "width", "resolution", "imagesize", "imgsize"),
    "--out": ("o", "output", "outputfile", "outputpath", "outpath", "outfile", "outputdir", "outdir", "save",
              "savepath"),
    "--overwrite": ("force", "f", "replace"),
}
_DIFFUSERS_NAMES = {"guidancescale": "guidance_scale", "numinferencesteps": "num_inference_steps",
                    "height": "height", "width": "width"}
_ONE_VALUE = {"--steps": positive_arg, "--size": size_arg, "--out": Path}
_EXAMPLE_VALUES = {"--guidance": "5", "--seeds": "0 1", "--steps": "20", "--size": "256", "--out": "sweep.png"}


def _meant(option: str) -> str | None:
    """The sweep's option that an unknown option names another way (--guidance_scale, -o) or misspells, else None."""
    import difflib

    key = option.lstrip("-").lower().replace("_", "").replace("-", "")
    if not key:
        return None
    for own, names in _OTHER_NAMES.items():
        if key in names:
            return own
    close = difflib.get_close_matches(key, [own[2:] for own in _OTHER_NAMES], n=1, cutoff=0.75)
    return f"--{close[0]}" if close else None


def is_number(token: str) -> bool:
    """-1 or 0.5 is a value, not an option, although it starts with a dash (ch. 1)."""
    try:
        float(token)
    except ValueError:
        return False
    return True


def _other_names(other: list[str], args) -> tuple[list[str], list[str], argparse.Namespace, set[str]]:
    """Sort unknown tokens into options the sweep has under another name and the rest.

    Returns (notes, tokens still unknown, args with the renamed options applied, options to always show)."""
    groups = []  # [option token or None, its values]
    for token in other:
        if token.startswith("-") and not is_number(token):
            groups.append([token, []])
        elif groups:
            groups[-1][1].append(token)
        else:  # a value before any option
            groups.append([None, [token]])
    fixed, always = argparse.Namespace(**vars(args)), set()
    renamed, targets, problems, rest, first = [], [], [], [], {}
    for token, values in groups:
        name, inline = (token.split("=", 1) + [None])[:2] if token else (None, None)
        target = _meant(name) if name else None
        if target is None:
            rest += ([token] if token else []) + values
            continue
        values = ([inline] if inline is not None else []) + values
        renamed.append(name)
        targets += [target] if target not in targets else []
        if target == "--overwrite":  # a switch: it takes no value
            fixed.overwrite = not (values and all(v.lower() in OFF_WORDS for v in values))
            if values:
                problems.append(f"--overwrite is a switch that takes no value ({' '.join(values)!r} is not read)")
            continue
        if not values:
            problems.append(f"{target} needs a value, e.g. {target} {_EXAMPLE_VALUES[target]}")
            values = _EXAMPLE_VALUES[target].split()
        if target in _ONE_VALUE:
            values, rest = values[:1], rest + values[1:]
            if target in first:
                if first[target][1] != values[0]:
                    problems.append(f"{first[target][0]} {first[target][1]} and {name} {values[0]} differ: the "
                                    f"command keeps {first[target][1]}"
                                    + (" (for another shape, call run_sweep from Python)" if target == "--size"
                                       else ""))
                continue
            first[target] = (name, values[0])
        converted = []
        for value in values:
            convert = {"--guidance": guidance_arg, "--seeds": seed_arg}.get(target) or _ONE_VALUE[target]
            try:
                converted.append(convert(value))
            except argparse.ArgumentTypeError as error:  # it names the value: -1 is not a guidance scale: ...
                problems.append(str(error))
                converted.append(value)
            except ValueError:
                problems.append(f"{value!r} is not a whole number")
                converted.append(value)
        if target in _ONE_VALUE:
            setattr(fixed, target[2:], converted[0])
            always.add(target)
        else:
            setattr(fixed, target[2:], (getattr(fixed, target[2:]) or []) + converted)
    if not renamed:
        return [], rest, fixed, always
    said = {}  # the sweep's option -> the diffusers argument names given for it
    for name in renamed:
        key = name.lstrip("-").lower().replace("_", "").replace("-", "")
        if key in _DIFFUSERS_NAMES and _DIFFUSERS_NAMES[key] not in said.setdefault(_meant(name), []):
            said[_meant(name)].append(_DIFFUSERS_NAMES[key])
    pairs = [f"diffusers' {' and '.join(names)} {'are' if len(names) > 1 else 'is'} the sweep's {own}"
             for own, names in said.items() if names]
    listed = ", ".join(renamed[:-1]) + " and " + renamed[-1] if len(renamed) > 1 else renamed[0]
    note = (f"{listed} {'are not options' if len(renamed) > 1 else 'is not an option'} of the sweep: did you mean "
            + " and ".join(targets) + "?"
            + (f" ({'; '.join(pairs)})" if pairs else "")
            + (" --size sets both height and width: the sweep's pictures are square." if "--size" in targets else "")
            + "".join(f" Also, {p}." for p in problems))
    return [note], rest, fixed, always


def rest_of_out(other: list[str], given) -> tuple[str, list[str]]:
    """(--out's value as typed, the bare words right after it) of `given`: a name with a space (ch. 1)."""
    given = list(given)
    for i, token in enumerate(given):
        if token == "--out" and i + 1 < len(given):
            value, start = given[i + 1], i + 2
        elif token.startswith("--out="):
            value, start = token.split("=", 1)[1], i + 1
        else:
            continue
        words = []
        for word in given[start:]:
            if word.startswith("-") or word not in other:
                break
            words.append(word)
        if words:
            return value, words
    return "", []


def unknown_message(unknown: list[str], args, first_notes=(), given=()) -> str:
    """The usage error for options the sweep does not take: accelerate's own, --device, another name, or else (ch. 1).

    `first_notes` (equals_notes) come first; the corrected command ends them unless a note below carries it.
    `given` is the command line as parsed, to tell the rest of an --out name with a space from a stray word."""
    launch, device, other = [], [], []  # accelerate's options (with their values), --device's value, the rest
    i = 0
    while i < len(unknown):
        token = unknown[i]
        name, has_value = token.split("=", 1)[0], "=" in token
        name = name[:2] + name[2:].replace("-", "_") if name.startswith("--") else name
        takes = 1 if name in ACCELERATE_VALUES or name == "--device" else 0
        if name not in ACCELERATE_FLAGS | ACCELERATE_VALUES | {"--device"}:
            other.append(token)
            i += 1
            continue
        group = [token]
        if takes and not has_value and i + 1 < len(unknown) and not unknown[i + 1].startswith("-"):
            group.append(unknown[i + 1])
        i += len(group)
        if name == "--device":
            device.append(token.split("=", 1)[1] if has_value else (group[1] if len(group) > 1 else ""))
        else:
            launch.append((name, group[0].split("=", 1)[1] if has_value else " ".join(group[1:])))
    renamed, other, args, always = _other_names(other, args)  # --guidance_scale 5, -o out.png: the sweep's own
    rest = sweep_options(args, always)
    notes = []
    if launch:
        names = [name for name, _value in launch]
        given = " ".join(f"{name} {value}".strip() for name, value in launch)
        added = "--num_processes" in names and not {"--multi_gpu", "--cpu"} & set(names)
        fixed = ("--multi_gpu " if added else "") + given  # the module docstring's form: it starts the processes
        listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
        notes.append(f"{listed} {'are options' if len(names) > 1 else 'is an option'} of accelerate launch, not of "
                     "the sweep: accelerate reads only the options before -m tools.sweep and passes the rest to the "
                     "sweep. Put them first"
                     + (" (with --multi_gpu, which is what starts several processes; without a GPU they talk over "
                        "gloo on the CPU)" if added else "")
                     + f": accelerate launch {fixed} -m tools.sweep{rest}")
        if "--cpu" in names:
            notes.append(f"Without accelerate, this runs on the CPU too (it hides the GPU from torch): "
                         f"CUDA_VISIBLE_DEVICES= python -m tools.sweep{rest}")
    if device:
        value = device[0].strip().lower()
        notes.append("The sweep has no --device: it picks the device itself, CUDA when torch sees a GPU and the "
                     "CPU otherwise (with accelerate, each process gets a GPU of its own).")
        if value.startswith("cuda:") and value[5:].isdigit():
            notes.append(f"To use GPU {value[5:]} only, show torch just that one: "
                         f"CUDA_VISIBLE_DEVICES={value[5:]} python -m tools.sweep{rest}")
        elif value in ("cuda", "gpu"):
            notes.append(f"So leave --device out: python -m tools.sweep{rest}")
        else:
            notes.append(f"To force the CPU on a machine with a GPU, hide the GPU from torch: "
                         f"CUDA_VISIBLE_DEVICES= python -m tools.sweep{rest}")
    workers, other = worker_note(other, rest)  # --workers 2: accelerate launch starts the processes
    notes += [workers] if workers else []
    front = [*first_notes, *renamed]  # first, and the command after them unless a note below carries it already
    if front:
        front[-1] += " The command below has it." if notes else f" That is: python -m tools.sweep{rest}"
    notes[:0] = front
    value, words = rest_of_out(other, given)
    if words:  # --out my grid.png: the shell split the name at its space
        for word in words:
            other.remove(word)
        notes.append(f"unrecognized arguments: {' '.join(words)}. Is it the rest of --out's file name? A name with a "
                     f"space needs quotes: --out \"{' '.join([value, *words])}\"")
    if other:  # --prompt, --model, --strength, a prompt typed bare: what the sweep renders is fixed
        from tools.sweep import ABOUT

        notes.append(f"unrecognized arguments: {' '.join(other)}. {ABOUT}")
    return "\n".join(notes)  # one line each, so that a command ends its line and copies cleanly

