"""Which wheels an offline GPU machine needs: the dependency closure of a pip report, less what it already holds.

    python tools/wheel_closure.py REPORT.json HAVE.txt NOTES.txt REQUIREMENTS.txt > pins.txt

Run by tools/prepare_wheels.sh with the interpreter it targets (a bare Python with pip is enough: packaging is
taken from pip when it is not installed). torch's own tree is never walked: the machine's torch brings it. A
package the machine holds (HAVE) is left out with everything below it, unless the version it holds falls outside
a range asked for here; the build backend is always carried, since pip builds in an isolated environment.
"""

from __future__ import annotations

import json
import re
import sys

try:
    from packaging.requirements import Requirement
except ImportError:  # a bare interpreter: pip vendors the same library
    from pip._vendor.packaging.requirements import Requirement

TORCH_TREE = re.compile(r"^(torch|triton|pytorch-triton.*|nvidia-.*|cuda-.*)$")
BUILD = {"setuptools", "wheel"}


def norm(name: str) -> str:
    """A distribution name as pip compares them: lower case, runs of -_. as one dash (maintainer tool)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_have(lines) -> dict[str, str | None]:
    """`name` or `name==version` per line, comments after #, into {name: version or None} (maintainer tool)."""
    have = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            have[norm(name)] = version.strip() or None
    return have


def _extras_only(item: dict | None, extras: frozenset) -> list:
    """The requirements a package adds for `extras` alone, as closure() walks them."""
    if not item or not extras:
        return []
    found = []
    for line in item["metadata"].get("requires_dist") or []:
        req = Requirement(line)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}) and \
                any(req.marker.evaluate({"extra": e}) for e in extras):
            found.append((norm(req.name), frozenset(req.extras), req.specifier))
    return found


def closure(report: dict, have: dict, asked: dict) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(pins to download, kept: on the machine already, carried: on the machine but outside a range) (maintainer tool).

    `report` is `pip install --dry-run --report`'s JSON; `asked` maps each requested name to its specifier.
    """
    items = {norm(i["metadata"]["name"]): i for i in report["install"]}
    todo = [(n, frozenset(i.get("requested_extras") or ()), asked.get(n)) for n, i in items.items()
            if i.get("requested")]
    seen, kept, carried = set(), {}, {}
    while todo:
        name, extras, spec = todo.pop()
        if name in have and name not in BUILD:
            version = have[name]
            if version is None or spec is None or spec.contains(version, prereleases=True):
                kept[name] = version or "version not read"
                # the machine has the package, not necessarily what its extras add (bleach[css] -> tinycss2)
                todo.extend(_extras_only(items.get(name), extras))
                continue
            carried[name] = f"the machine's {version} is outside {spec}"
        if (name, extras) in seen or TORCH_TREE.match(name) or name not in items:
            continue
        seen.add((name, extras))
        for line in items[name]["metadata"].get("requires_dist") or []:
            req = Requirement(line)
            envs = [{"extra": e} for e in extras] + [{"extra": ""}]
            if req.marker is None or any(req.marker.evaluate(env) for env in envs):
                todo.append((norm(req.name), frozenset(req.extras), req.specifier))
    pins = {n: items[n]["metadata"]["version"] for n in sorted({n for n, _ in seen})}
    return pins, {k: v for k, v in kept.items() if k not in carried}, carried


def main(argv) -> int:
    """Print name==version pins; write what was left out, and why, as '#' lines to NOTES (maintainer tool)."""
    report_path, have_path, notes_path, req_path = argv
    report = json.load(open(report_path))
    have = {} if have_path == "none" else read_have(open(have_path))
    asked = {norm(r.name): r.specifier for r in map(Requirement, filter(None, map(str.strip, open(req_path))))}
    pins, kept, carried = closure(report, have, asked)
    for name, version in pins.items():
        print(f"{name}=={version}")
    with open(notes_path, "w") as notes:
        notes.write("# on the machine already (HAVE), left out: "
                    f"{', '.join(f'{k} ({v})' for k, v in sorted(kept.items())) or 'nothing'}\n")
        if carried:
            notes.write("# carried although the machine has them: "
                        f"{'; '.join(f'{k}: {v}' for k, v in sorted(carried.items()))}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
