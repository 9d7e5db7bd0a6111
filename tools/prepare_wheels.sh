#!/usr/bin/env bash
# Run ONLINE, before a GPU check: fill a folder with every wheel that tools/gpu_check.sh needs to install
# this project OFFLINE on a linux x86_64 machine that already has a CUDA build of torch.
#
#   tools/prepare_wheels.sh [DIR]        # DIR defaults to wheels/ (add `wheels/` to .gitignore)
#
# What goes in, and why:
#   * what the GPU check runs: requirements.txt minus torch and `-e .`, plus the tests and notebook tools of
#     requirements-dev.txt (pytest, nbval and its kernel, nbclient, nbconvert, nbformat, pyyaml), with their whole
#     dependency tree EXCEPT what only torch pulls in (nvidia-*, triton, cuda-*, sympy, networkx, ...): the GPU
#     machine's torch brings its own, and those wheels are gigabytes;
#   * only what the machine lacks: a package listed in HAVE (the machine's own packages) is left out with
#     everything below it, unless its listed version falls outside a range this project asks for;
#   * xformers (requirements-gpu.txt), best effort: only a release that resolves together with the pinned torch;
#   * setuptools and wheel, even where the machine has them: the build backend pyproject.toml names, which pip
#     installs into an isolated build environment from --find-links alone, for the editable install;
#   * clip-anytorch==2.6.0: the twin builder reads the CLIP vocabulary from this exact wheel
#     (helpers/twins/tokenizer.py `_clip_merges`) and would otherwise `pip download` it;
#   * this project's own wheel (`pip wheel --no-deps .`), for installs outside a checkout;
#   * MANIFEST.txt (sha256 of every file, `sha256sum -c` format after the # lines) and
#     requirements-offline.txt (what gpu_check.sh installs).
#
# Knobs (environment):
#   HAVE        file of the target machine's packages, `name` or `name==version` per line (default
#               tools/gpu_machine.txt; its `# python:` and `# torch:` lines set the two defaults below);
#               HAVE=none assumes a machine with nothing but torch.
#   PY_VERSION  target CPython version, major.minor (default: HAVE's, else 3.11; pyproject.toml admits
#               3.11-3.13). PYTHON should be that version: pip evaluates environment markers against it.
#   PYTHON      interpreter whose pip does the work (default python$PY_VERSION, else python3); pip >= 23 (--report)
#   SLIM=0      also carry jupyterlab, playwright, ruff and pytest-xdist (interactive use, the browser test,
#               lint, parallel tests): gpu_check.sh needs none of them, so they are left out by default.
#   XFORMERS=0  do not try xformers.
#   TORCH_VERSION  the torch the GPU machine has (default: HAVE's, else constraints.txt's pin); only xformers
#               cares.
set -uo pipefail

die() { echo "prepare_wheels: ERROR: $*" >&2; exit 1; }
say() { echo "prepare_wheels: $*" >&2; }

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${1:-wheels}"
case "$DIR" in /*) ;; *) DIR="$PWD/$DIR" ;; esac  # absolute: we cd into the checkout below

HAVE="${HAVE:-$ROOT/tools/gpu_machine.txt}"
if [[ "$HAVE" != none ]]; then
  [[ -f "$HAVE" ]] || die "HAVE=$HAVE is not a file (give the machine's package list, or HAVE=none)"
  HAVE="$(cd "$(dirname "$HAVE")" && pwd)/$(basename "$HAVE")"
  have_python="$(sed -n 's/^# python: *\([0-9.]*\).*/\1/p' "$HAVE" | head -n1)"
  have_torch="$(sed -n 's/^# torch: *\([^ ]*\).*/\1/p' "$HAVE" | head -n1)"
fi
PY_VERSION="${PY_VERSION:-${have_python:-3.11}}"
if [[ -z "${PYTHON:-}" ]]; then
  if command -v "python$PY_VERSION" >/dev/null; then PYTHON="python$PY_VERSION"; else PYTHON=python3; fi
fi
PY_TAG="cp${PY_VERSION/./}"
SLIM="${SLIM:-1}"
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
TORCH_VERSION="${TORCH_VERSION:-${have_torch:-$(sed -n 's/^torch==\([^[:space:];]*\).*/\1/p' constraints.txt | head -n1)}}"
[[ -n "$TORCH_VERSION" ]] || die "no torch==... line in constraints.txt (or set TORCH_VERSION)"
BACKEND="$(sed -n 's/^requires = \["\(setuptools[^"]*\)"\]$/\1/p' pyproject.toml | head -n1)"  # the build backend
[[ -n "$BACKEND" ]] || die "no setuptools requirement under [build-system] in pyproject.toml"
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

# requirements.txt and requirements-dev.txt minus torch (the GPU machine's own stays), minus `-e .` (the checkout
# is installed editable, or from its wheel) and the `-r` include; SLIM drops the interactive/browser/lint extras.
grep -vhE '^[[:space:]]*(#|$|-[er][[:space:]]|torch([<>=!~ ]|$))' requirements.txt requirements-dev.txt > "$TMP/req.txt"
if [[ "$SLIM" == 1 ]]; then
  grep -viE '^(jupyterlab|playwright|ruff|pytest-xdist)([<>=!~ ;[]|$)' "$TMP/req.txt" > "$TMP/req.slim" \
    && mv "$TMP/req.slim" "$TMP/req.txt"
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
    --find-links "$TMP/stub" -r "$TMP/req.txt" "torch==$TORCH_VERSION+stub" "$BACKEND" wheel "$@" \
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
#    Nor into what the machine has (HAVE): a package it holds is left out with its own dependencies, unless the
#    version it holds falls outside a range asked for here. The build backend is always carried.
"$PYTHON" "$ROOT/tools/wheel_closure.py" "$TMP/report.json" "$HAVE" "$TMP/have-notes.txt" "$TMP/req.txt" \
  > "$TMP/pins.txt" || die "could not compute the dependency closure"
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
  echo "# slim: $SLIM (1 = without jupyterlab, playwright, ruff, pytest-xdist)"
  echo "# have: $HAVE"
  cat "$TMP/have-notes.txt"
  echo "# made: $(date -u +%Y-%m-%dT%H:%M:%SZ) from commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  (cd "$DIR" && sha256sum -- *.whl requirements-offline.txt)
} > "$TMP/MANIFEST.txt"
mv "$TMP/MANIFEST.txt" "$DIR/MANIFEST.txt"

count="$(find "$DIR" -maxdepth 1 -name '*.whl' | wc -l)"
size="$(du -sh "$DIR" | cut -f1)"
say "$XF_NOTE"
say "wrote $count wheels, $size, to $DIR (manifest: $DIR/MANIFEST.txt)"
echo "$DIR"
