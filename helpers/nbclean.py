"""Make executed notebooks fit to commit: drop pictures and volatile metadata, keep the text outputs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat

PICTURES = ("image/png", "image/jpeg", "image/svg+xml", "application/vnd.jupyter.widget-view+json")


def clean(nb):
    """Strip image data (it differs by weights and device) and run metadata; text stays for nbval (main job)."""
    nb.metadata = {k: v for k, v in nb.metadata.items() if k in ("kernelspec", "language_info")}
    nb.metadata.get("language_info", {}).pop("version", None)
    for cell in nb.cells:
        cell.metadata = {k: v for k, v in cell.metadata.items() if k == "tags"}
        if cell.cell_type != "code":
            continue
        kept = []
        for out in cell.get("outputs", []):
            data = out.get("data")
            if data is not None:
                for key in PICTURES:
                    data.pop(key, None)
                if not data:
                    continue
            out.pop("metadata", None) if out.get("output_type") == "stream" else out.__setitem__("metadata", {})
            kept.append(out)
        cell.outputs = kept
    return nb


def main(paths) -> int:
    """Clean the given notebooks in place (main job)."""
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        tmp = Path(path).with_name(f".{Path(path).name}.tmp")
        nbformat.write(clean(nb), tmp)
        os.replace(tmp, path)  # one step: a kill mid-write leaves the notebook as it was
        print(f"cleaned {Path(path).name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
