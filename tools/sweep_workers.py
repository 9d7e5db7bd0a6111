"""The sweep's usage note for an option asking for several processes (--workers 2, -j 2, --gpus 2): accelerate's route.

The sweep has no option for processes: accelerate launch starts them (one per GPU, or gloo on the CPU), as the
README and tools.sweep's docstring say. tools.sweep_slips.unknown_message calls `worker_note` on the options it did
not recognise otherwise.
"""

from __future__ import annotations

import re

# compared in lower case without dashes and underscores
_PROCESS_WORDS = {"workers", "numworkers", "nworkers", "jobs", "njobs", "numjobs", "j", "processes", "numprocesses",
                  "nprocesses", "nprocs", "nproc", "np", "procs", "gpus", "numgpus", "ngpus", "parallel",
                  "threads", "numthreads", "devices", "ndevices", "numdevices", "worldsize"}


def _key(name: str) -> str:
    return name.lstrip("-").lower().replace("_", "").replace("-", "")


def worker_note(other: list[str], rest: str) -> tuple[str, list[str]]:
    """(the accelerate launch note, the tokens left) for --workers 2 and its kin in `other` (ch. 1).

    ("", other) when `other` asks for no processes.

    `rest` is the sweep's own options as given, for the corrected command."""
    left, found, i = [], [], 0
    while i < len(other):
        token = other[i]
        name, has_value, value = token.partition("=")
        attached = re.fullmatch(r"-j(\d+)", token)  # -j2, as make takes it
        if not token.startswith("-") or not (attached or _key(name) in _PROCESS_WORDS):
            left.append(token)
            i += 1
            continue
        if attached:
            value = attached.group(1)
        elif not has_value and i + 1 < len(other) and not other[i + 1].startswith("-"):
            value, i = other[i + 1], i + 1
        found.append((name if not attached else "-j", value))
        i += 1
    if not found:
        return "", other
    name, value = found[0]
    ids = [v for v in value.split(",") if v.strip().isdigit()] if "," in value else []
    count = len(ids) if ids else int(value) if value.isdigit() and int(value) > 0 else 2
    gpu_ids = f" --gpu_ids {','.join(ids)}" if ids else ""
    listed = " and ".join(dict.fromkeys(n for n, _v in found))
    verb = "are not options" if " and " in listed else "is not an option"
    return (f"{listed} {verb} of the sweep: the sweep has no option for processes or workers. accelerate "
            "starts them, one process per GPU (without a GPU they talk over gloo on the CPU), and each renders its "
            "share of the grid. Its options go before -m tools.sweep, the sweep's own after it: "
            f"accelerate launch --multi_gpu --num_processes {count}{gpu_ids} -m tools.sweep{rest}"), left
