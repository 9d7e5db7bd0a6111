#!/usr/bin/env bash
# Run ONLINE, before a GPU check: fill a folder with every wheel that tools/gpu_check.sh needs to install
# this project OFFLINE on a linux x86_64 machine that already has a CUDA build of torch.
#
#   tools/prepare_wheels.sh [DIR]        # DIR defaults to wheels/ (add `wheels/` to .gitignore)
#
# What goes in, and why:
#   * requirements.txt minus torch and `-e .`, with the whole dependency tree EXCEPT what only torch
#     pulls in (nvidia-*, triton, cuda-*, sympy, networkx, ...): the GPU machine's torch brings its own, and
#     those wheels are gigabytes;
#   * xformers (requirements-gpu.txt), best effort: only a release that resolves together with the pinned torch;
#   * setuptools and wheel: the build backend pyproject.toml names, so the editable install of the checkout
#     can build offline (pip takes build requirements from --find-links too);
#   * clip-anytorch==2.6.0: the twin builder reads the CLIP vocabulary from this exact wheel
#     (helpers/twins/tokenizer.py `_clip_merges`) and would otherwise `pip download` it;
#   * this project's own wheel (`pip wheel --no-deps .`), for installs outside a checkout;
#   * MANIFEST.txt (sha256 of every file, `sha256sum -c` format after the # lines) and
#     requirements-offline.txt (what gpu_check.sh installs).
#
# Knobs (environment):
#   PYTHON      interpreter whose pip does the work (default python3.11, else python3); pip >= 23 (--report)
#   PY_VERSION  target CPython version, major.minor (default 3.11; pyproject.toml admits 3.11-3.13). Run with a
#               PYTHON of that version: pip evaluates environment markers against the running interpreter.
#   SLIM=1      leave out jupyterlab, playwright and ruff (interactive use, the browser test, lint): nothing in
#               gpu_check.sh needs them and they are most of the folder's size.
#   XFORMERS=0  do not try xformers.
#   TORCH_VERSION  the torch the GPU machine has (default: constraints.txt's pin); only xformers cares.
set -uo pipefail

die() { echo "prepare_wheels: ERROR: $*" >&2; exit 1; }
say() { echo "prepare_wheels: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-wheels}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac  # absolute: we cd into the checkout below

if [[ -z "${PYTHON:-}" ]]; then
  if command -v python3.11 >/dev/null; then PYTHON=python3.11; else PYTHON=python3; fi
fi
PY_VERSION="${PY_VERSION:-3.11}"
PY_TAG="cp${PY_VERSION/./}"
SLIM="${SLIM:-0}"
XFORMERS="${XFORMERS:-1}"

"$PYTHON" -m pip --version >/dev/null 2>&1 || die "$PYTHON has no pip"
running="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
if [[ "$running" != "$PY_VERSION" ]]; then
  # Tags and Requires-Python follow --python-version, but markers (e.g. `; python_version < "3.12"`) follow
  # the running interpreter, so the set could be subtly wrong.
  say "WARNING: running Python $running but targeting $PY_VERSION; environment markers follow $running"
fi

cd "$ROOT" || die "cannot cd to $ROOT"
# The torch the GPU machine will have: constraints.txt's pin (CI's torch) unless TORCH_VERSION says otherwise.
TORCH_VERSION="${TORCH_VERSION:-$(sed -n 's/^torch==\([^[:space:];]*\).*/\1/p' constraints.txt | head -n1)}"
[[ -n "$TORCH_VERSION" ]] || die "no torch==... line in constraints.txt (or set TORCH_VERSION)"
CLIP_SHA="$(sed -n 's/^CLIP_WHEEL_SHA256 = "\([0-9a-f]*\)"$/\1/p' helpers/twins/tokenizer.py)"

# Refuse to clean a folder that holds anything but what this script writes.
if [[ -d "$DIR" ]]; then
  stray="$(find "$DIR" -mindepth 1 -maxdepth 1 ! -name '*.whl' ! -name MANIFEST.txt \
           ! -name requirements-offline.txt -print -quit)"
  [[ -z "$stray" ]] || die "$DIR holds other files ($stray); give an empty or new folder"
  rm -f "$DIR"/*.whl "$DIR"/MANIFEST.txt "$DIR"/requirements-offline.txt
fi
mkdir -p "$DIR" || die "cannot create $DIR"

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# requirements.txt minus torch (the GPU machine's own stays) and minus `-e .` (the checkout is installed
# editable, or from its wheel); SLIM drops the interactive/browser/lint extras.
grep -vE '^[[:space:]]*(#|$|-e[[:space:]]|torch([<>=!~ ]|$))' requirements.txt > "$TMP/req.txt"
if [[ "$SLIM" == 1 ]]; then
  grep -viE '^(jupyterlab|playwright|ruff)([<>=!~ ;[]|$)' "$TMP/req.txt" > "$TMP/req.slim" && mv "$TMP/req.slim" "$TMP/req.txt"
fi
cp "$TMP/req.txt" "$DIR/requirements-offline.txt"

# Binary wheels for the target only. pip does not widen manylinux_2_X tags to older glibc versions
# (only manylinux2014 -> 2010 -> 1), so name each manylinux level that real wheels use, up to 2_28,
# the level torch's own CUDA wheels need (a machine that runs them has glibc >= 2.28).
TARGET=(--only-binary=:all: --implementation cp --python-version "$PY_VERSION" --abi "$PY_TAG" --abi abi3
        --abi none --platform manylinux2014_x86_64 --platform manylinux_2_17_x86_64
        --platform manylinux_2_24_x86_64 --platform manylinux_2_26_x86_64 --platform manylinux_2_27_x86_64
        --platform manylinux_2_28_x86_64 --platform any)
QUIET=(--quiet --disable-pip-version-check)

# 1. Resolve once with torch pinned, so everything (xformers above all) agrees with that torch. torch itself is
#    a stub: an empty wheel `torch-X+stub` with no dependencies, so the resolver never walks into torch's tree
#    (nvidia-*, triton, cuda-*: gigabytes, and a CUDA wheel missing from the index would sink the whole
#    resolution). --dry-run --report resolves from metadata alone and downloads nothing.
mkdir -p "$TMP/stub"
"$PYTHON" - "$TMP/stub" "$TORCH_VERSION" <<'PY' || die "could not write the torch stub wheel"
import sys, zipfile
folder, version = sys.argv[1], sys.argv[2] + "+stub"
info = f"torch-{version}.dist-info"
files = {f"{info}/METADATA": f"Metadata-Version: 2.1\nName: torch\nVersion: {version}\n",
         f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: prepare_wheels\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
files[f"{info}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{info}/RECORD,,\n"
with zipfile.ZipFile(f"{folder}/torch-{version}-py3-none-any.whl", "w") as z:
    for name, text in files.items():
        z.writestr(name, text)
PY
resolve() {  # resolve REPORT EXTRA_REQS...
  local report="$1"; shift
  "$PYTHON" -m pip install "${QUIET[@]}" --dry-run --ignore-installed --report "$report" "${TARGET[@]}" \
    --find-links "$TMP/stub" -r "$TMP/req.txt" "torch==$TORCH_VERSION+stub" "setuptools>=68" wheel "$@" \
    2> "$TMP/resolve.err"
}
XF_NOTE="xformers: not tried (XFORMERS=0)"
if [[ "$XFORMERS" == 1 ]] && resolve "$TMP/report.json" "$(grep -E '^xformers' requirements-gpu.txt || echo xformers)"; then
  XF_NOTE="xformers: included (resolved with torch $TORCH_VERSION)"
else
  if [[ "$XFORMERS" == 1 ]]; then
    XF_NOTE="xformers: SKIPPED, no release resolves with torch $TORCH_VERSION on $PY_TAG linux x86_64"
    say "$XF_NOTE: $(grep -iE 'error|conflict|no matching' "$TMP/resolve.err" | head -n3 | tr '\n' ' ')"
  fi
  resolve "$TMP/report.json" || { cat "$TMP/resolve.err" >&2; die "pip could not resolve requirements.txt"; }
fi

# 2. The dependency closure of the requested packages, NOT walking into torch: what only torch needs
#    (nvidia-*, triton, cuda-*, sympy, networkx, mpmath, ...) is already on the GPU machine with its torch.
#    Shared dependencies (filelock, jinja2, fsspec, typing-extensions) stay, as other packages need them.
"$PYTHON" - "$TMP/report.json" > "$TMP/pins.txt" <<'PY' || die "could not compute the dependency closure"
import json, re, sys
from pip._vendor.packaging.requirements import Requirement

def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()

SKIP = re.compile(r"^(torch|triton|pytorch-triton.*|nvidia-.*|cuda-.*)$")  # torch's tree: never download
items = {norm(i["metadata"]["name"]): i for i in json.load(open(sys.argv[1]))["install"]}
todo = [(n, frozenset(i.get("requested_extras") or ())) for n, i in items.items() if i.get("requested")]
seen = set()
while todo:
    name, extras = todo.pop()
    if (name, extras) in seen or SKIP.match(name) or name not in items:
        continue
    seen.add((name, extras))
    for line in items[name]["metadata"].get("requires_dist") or []:
        req = Requirement(line)
        envs = [{"extra": e} for e in extras] + [{"extra": ""}]
        if req.marker is None or any(req.marker.evaluate(env) for env in envs):
            todo.append((norm(req.name), frozenset(req.extras)))
for name in sorted({n for n, _ in seen}):
    print(f"{name}=={items[name]['metadata']['version']}")
PY
grep -qiE '^(torch|triton|nvidia-)' "$TMP/pins.txt" && die "torch's tree leaked into the download list"
say "$(wc -l < "$TMP/pins.txt") packages to download (torch and its own tree excluded)"

# 3. Download exactly those versions, without letting pip pull dependencies back in (--no-deps).
"$PYTHON" -m pip download "${QUIET[@]}" --no-deps "${TARGET[@]}" -d "$DIR" -r "$TMP/pins.txt" \
  || die "pip download failed"
"$PYTHON" -m pip download "${QUIET[@]}" --no-deps "${TARGET[@]}" -d "$DIR" clip-anytorch==2.6.0 \
  || die "could not download clip-anytorch==2.6.0"
if [[ -n "$CLIP_SHA" ]]; then
  got="$(sha256sum "$DIR/clip_anytorch-2.6.0-py3-none-any.whl" | cut -d' ' -f1)"
  [[ "$got" == "$CLIP_SHA" ]] || die "clip_anytorch wheel sha256 $got != $CLIP_SHA (helpers/twins/tokenizer.py)"
fi

# 4. The project's own wheel (pure Python). Built from this checkout, so it is a snapshot of helpers/.
"$PYTHON" -m pip wheel "${QUIET[@]}" --no-deps -w "$DIR" . || die "pip wheel . failed"

# Nothing of torch's tree may have slipped in (e.g. through a cached file).
if compgen -G "$DIR/torch-*.whl" >/dev/null || compgen -G "$DIR/nvidia_*.whl" >/dev/null \
   || compgen -G "$DIR/triton-*.whl" >/dev/null; then
  die "a torch/nvidia/triton wheel is in $DIR"
fi

# 5. MANIFEST.txt: '#' header lines, then `sha256  file` lines (`grep -v '^#' MANIFEST.txt | sha256sum -c`).
{
  echo "# wheels for an offline install of $(sed -n 's/^name = "\(.*\)"$/\1/p' pyproject.toml) on linux x86_64"
  echo "# python: $PY_TAG (CPython $PY_VERSION); torch: NOT included, the target's own is used (torch $TORCH_VERSION expected)"
  echo "# $XF_NOTE"
  echo "# slim: $SLIM (1 = without jupyterlab, playwright, ruff)"
  echo "# made: $(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  (cd "$DIR" && sha256sum -- *.whl requirements-offline.txt)
} > "$TMP/MANIFEST.txt"
mv "$TMP/MANIFEST.txt" "$DIR/MANIFEST.txt"

count="$(find "$DIR" -maxdepth 1 -name '*.whl' | wc -l)"
size="$(du -sh "$DIR" | cut -f1)"
say "$XF_NOTE"
say "wrote $count wheels, $size, to $DIR (manifest: $DIR/MANIFEST.txt)"
echo "$DIR"
