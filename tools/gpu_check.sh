#!/usr/bin/env bash
# Run on an OFFLINE CUDA machine, from the repository root, after tools/prepare_wheels.sh filled WHEELS_DIR
# on an online machine:
#
#   tools/gpu_check.sh [WHEELS_DIR]                  # default wheels/; results in ${OUT:-build/gpu}
#   tools/gpu_check.sh --install-only [WHEELS_DIR]   # just the offline install and its checks
#
# Stages (each timed, each under `timeout`; a failing stage does not stop the later ones, but the script exits
# non-zero at the end): install, header, twins, tests, notebooks, full_twins, bench. Only a failed install
# skips the rest, since every later stage runs in the environment it makes.
#
# The machine's own CUDA torch is used as it is: the venv sees it through --system-site-packages, pip runs
# with --no-index (nothing can be fetched) and with a constraint pinning torch to the installed build, and the
# install stage fails loudly if torch's version or file changed or CUDA is not available afterwards.
#
# Environment knobs:
#   OUT=dir                results (log, timings.txt, junit xml, bench md/json); default build/gpu. At most 7
#                          files land there, so a caller that copies a handful of files back gets all of them.
#   PYTHON=python3         the interpreter that holds the CUDA torch
#   VENV=.cache/gpu-venv   venv to create/reuse (--system-site-packages); VENV=none installs into PYTHON's env
#   REQUIRE_CUDA=1         0 lets the install check pass without CUDA (to rehearse the install on a CPU box)
#   BUDGET=470             seconds for all stages together; each stage's timeout is cut to what is left
#   T_INSTALL T_HEADER T_TWINS T_TESTS T_NOTEBOOKS T_FULL_TWINS T_BENCH   per-stage timeouts (seconds)
#   BENCH_ARGS="..."       extra arguments for `python -m tools.bench` (e.g. "--repeats 1")
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/tools/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT" || exit 2

MODE=all
case "${1:-}" in --install-only|--header) MODE="${1#--}"; shift ;; esac  # --header: internal, for its stage
WHEELS="${1:-wheels}"
case "$WHEELS" in /*) ;; *) WHEELS="$ROOT/$WHEELS" ;; esac
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.cache/gpu-venv}"
REQUIRE_CUDA="${REQUIRE_CUDA:-1}"
export TUTORIAL_MODELS=twins TUTORIAL_DEVICE=cuda
# The whole run is offline: fail fast instead of waiting on network timeouts.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 PIP_NO_INDEX=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

# The interpreter every stage after the install uses.
if [[ "$VENV" == none ]]; then PY="$(command -v "$PYTHON")"; else PY="$ROOT/$VENV/bin/python"; fi
[[ "$VENV" == /* ]] && PY="$VENV/bin/python"

# ------------------------------------------------------------------------------------------------ install
# Everything here is one function so `--install-only` can rehearse it alone (on a CPU box with REQUIRE_CUDA=0).
install_env() {
  local fail=0 torch_before torch_file_before pyver req tmp
  echo "== install: wheels from $WHEELS, interpreter $PYTHON, venv $VENV"
  [[ -d "$WHEELS" ]] || { echo "ERROR: no wheels folder $WHEELS (run tools/prepare_wheels.sh online first)"; return 1; }
  if [[ -f "$WHEELS/MANIFEST.txt" ]]; then
    # A truncated copy shows up here, not as a confusing pip error later.
    (cd "$WHEELS" && grep -v '^#' MANIFEST.txt | sha256sum --quiet -c -) \
      || { echo "ERROR: $WHEELS does not match its MANIFEST.txt"; return 1; }
    grep '^#' "$WHEELS/MANIFEST.txt"
  else
    echo "WARNING: $WHEELS/MANIFEST.txt missing; cannot check the wheels"
  fi

  # Record torch as the machine has it, before pip runs.
  torch_before="$("$PYTHON" -c 'import torch; print(torch.__version__)')" \
    || { echo "ERROR: $PYTHON cannot import torch; this script needs a Python with a CUDA torch"; return 1; }
  torch_file_before="$("$PYTHON" -c 'import torch; print(torch.__file__)')"
  pyver="$("$PYTHON" -c 'import sys; print("cp%d%d" % sys.version_info[:2])')"
  echo "torch before: $torch_before ($torch_file_before), python $pyver"
  if [[ -f "$WHEELS/MANIFEST.txt" ]] && ! grep -q "^# python: $pyver " "$WHEELS/MANIFEST.txt"; then
    echo "WARNING: the wheels were made for another Python than $pyver; binary wheels will not match" \
         "(rerun prepare_wheels.sh with PY_VERSION and PYTHON of this version)"
  fi
  local want; want="$(grep -E '^torch==' constraints.txt | head -n1 | cut -d= -f3)"
  [[ "${torch_before%%+*}" == "$want" ]] \
    || echo "WARNING: this machine's torch is $torch_before, CI pins $want (constraints.txt); testing with $torch_before"

  if [[ "$VENV" != none ]]; then
    if [[ ! -x "$PY" ]]; then
      # --system-site-packages: the venv sees the machine's CUDA torch (and its nvidia libs) without a copy.
      "$PYTHON" -m venv --system-site-packages "$VENV" || { echo "ERROR: could not create $VENV"; return 1; }
    fi
    # If PYTHON is itself a venv (on some CUDA machines python3 is /opt/torch/.venv/bin/python3),
    # --system-site-packages reaches the BASE interpreter's site-packages, not PYTHON's, where torch is.
    # So hand the new venv PYTHON's site directories through a .pth file, after its own: pip then sees torch
    # and the rest as installed, installs only what is missing or too old into the venv, and never
    # uninstalls from there ("outside environment").
    "$PYTHON" - "$PY" <<'PY' || { echo "ERROR: could not link $VENV to $PYTHON's site-packages"; return 1; }
import subprocess, sys
if sys.prefix != sys.base_prefix:
    dirs = [p for p in sys.path if p.endswith(("site-packages", "dist-packages"))]
    own = subprocess.run([sys.argv[1], "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         capture_output=True, text=True, check=True).stdout.strip()
    with open(f"{own}/_gpu_check_parent_env.pth", "w") as f:
        f.write("\n".join(dirs) + "\n")
    print(f"venv layered over {sys.prefix}: {', '.join(dirs)}")
PY
  fi

  tmp="$(mktemp -d)"
  # Pin torch to exactly the installed build: if anything wanted another torch, pip fails instead of
  # replacing it (and with --no-index it could not fetch one anyway).
  echo "torch==$torch_before" > "$tmp/torch-pin.txt"
  # What to install: the list prepare_wheels.sh resolved, else requirements.txt minus torch and `-e .`.
  req="$WHEELS/requirements-offline.txt"
  if [[ ! -f "$req" ]]; then
    req="$tmp/req.txt"; grep -vE '^[[:space:]]*(#|$|-e[[:space:]]|torch([<>=!~ ]|$))' requirements.txt > "$req"
  fi
  local PIP=("$PY" -m pip install --no-index --find-links "$WHEELS" --progress-bar off -c "$tmp/torch-pin.txt")
  # Unpinned requirements: packages the machine already has at a fitting version are kept, not replaced.
  "${PIP[@]}" -r "$req" || fail=1
  # xformers is optional (helpers.speed uses it when present): a wheel that does not fit this torch is skipped.
  if compgen -G "$WHEELS/xformers-*.whl" >/dev/null; then
    "${PIP[@]}" xformers || echo "NOTE: xformers wheel does not install against torch $torch_before; skipped"
  else
    echo "NOTE: no xformers wheel in $WHEELS; skipped"
  fi
  # The checkout itself, editable, like README's `-e .`: tests and notebook kernels must import THIS
  # helpers/ (paths.py finds .cache/ and build/ next to it), not a snapshot in site-packages. --no-deps: its
  # dependencies are in place, and its torch==X pin must not fight the machine's torch. Its build backend
  # (setuptools) comes from the wheels folder. requires-python says 3.11 only; another version gets a warning.
  local loose=()
  [[ "$pyver" == cp311 ]] || { loose=(--ignore-requires-python); echo "WARNING: Python $pyver, not cp311"; }
  "${PIP[@]}" --no-deps "${loose[@]}" -e . || fail=1
  rm -rf "$tmp"
  "$PY" -m pip check || echo "NOTE: pip check reports conflicts (often the machine's own packages); see above"

  # Loud failure if torch moved, or if CUDA is not usable from the new environment.
  TORCH_BEFORE="$torch_before" TORCH_FILE="$torch_file_before" REQUIRE_CUDA="$REQUIRE_CUDA" ROOT="$ROOT" "$PY" - <<'PY' || fail=1
import os, sys
import torch
ok = True
if torch.__version__ != os.environ["TORCH_BEFORE"] or torch.__file__ != os.environ["TORCH_FILE"]:
    print(f"ERROR: torch changed: {os.environ['TORCH_BEFORE']} at {os.environ['TORCH_FILE']} -> "
          f"{torch.__version__} at {torch.__file__}")
    ok = False
if not torch.cuda.is_available():
    print(f"{'ERROR' if os.environ['REQUIRE_CUDA'] == '1' else 'WARNING'}: torch.cuda.is_available() is False")
    ok = ok and os.environ["REQUIRE_CUDA"] != "1"
import compel, diffusers, helpers, transformers
print(f"torch {torch.__version__} (CUDA {torch.version.cuda}), diffusers {diffusers.__version__}, "
      f"transformers {transformers.__version__}, compel {getattr(compel, '__version__', '?')}")
if not helpers.__file__.startswith(os.environ["ROOT"] + os.sep):
    print(f"ERROR: helpers imported from {helpers.__file__}, not from the checkout {os.environ['ROOT']}")
    ok = False
try:
    import xformers
    print(f"xformers {xformers.__version__}")
except Exception as err:  # optional
    print(f"xformers: not usable ({type(err).__name__})")
sys.exit(0 if ok else 1)
PY

  # The twin builder reads the CLIP vocabulary from this wheel, and would `pip download` it if missing.
  local src="${TUTORIAL_CACHE:-$ROOT/.cache}/twins/src"
  if ! { mkdir -p "$src" && cp "$WHEELS/clip_anytorch-2.6.0-py3-none-any.whl" "$src/"; }; then
    echo "ERROR: could not put clip_anytorch-2.6.0-py3-none-any.whl into $src"; fail=1
  fi
  if [[ "$fail" == 0 ]]; then echo "install: OK"; else echo "install: FAILED"; fi
  return "$fail"
}

# ------------------------------------------------------------------------------------------------ header
header() {
  echo "date:   $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo 'n/a (no .git)')"
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.free --format=csv,noheader
  fi
  "$PY" - <<'PY'
import platform
import torch
print(f"python: {platform.python_version()}  torch: {torch.__version__}  CUDA: {torch.version.cuda}  "
      f"cuDNN: {torch.backends.cudnn.version()}")
if torch.cuda.is_available():
    free, total = torch.cuda.mem_get_info()
    print(f"GPU:    {torch.cuda.get_device_name()}  free {free / 2**30:.1f} / {total / 2**30:.1f} GiB")
else:
    print("GPU:    none visible to torch")
    raise SystemExit(1)
PY
}

case "$MODE" in
  install-only) install_env; exit $? ;;
  header) header; exit $? ;;
esac

# ------------------------------------------------------------------------------------------------ stages
OUT="${OUT:-build/gpu}"
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
mkdir -p "$OUT" || exit 2
LOG="$OUT/gpu_check.log"
TIMINGS="$OUT/timings.txt"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1  # everything below, stages included, goes to the screen and the log
BUDGET="${BUDGET:-470}"       # under 8 minutes with room for the kill-after grace and the summary
START=$SECONDS
NAMES=() SECS=() RCS=()
printf '%-12s %8s %5s\n' stage seconds rc > "$TIMINGS"

# stage NAME TIMEOUT CMD...: run CMD under `timeout`, cut to the budget left; record wall time and exit code.
stage() {
  local name="$1" limit="$2"; shift 2
  local left=$((BUDGET - (SECONDS - START))) t0 rc
  (( limit > left )) && limit=$left
  echo
  echo "=================== $name (timeout ${limit}s) $(date -u +%H:%M:%S)"
  if (( limit < 5 )); then
    echo "SKIPPED: under 5 s left for it (stage timeout or the ${BUDGET}s budget)"; rc=125; t0=$SECONDS
  else
    t0=$SECONDS
    timeout --kill-after=10 "$limit" "$@"; rc=$?
    (( rc == 124 || rc == 137 )) && echo "TIMEOUT: $name ran past ${limit}s"
  fi
  NAMES+=("$name"); SECS+=($((SECONDS - t0))); RCS+=("$rc")
  printf '%-12s %8s %5s\n' "$name" "$((SECONDS - t0))" "$rc" >> "$TIMINGS"
  return "$rc"
}
skip() {  # a stage that cannot run because the install failed
  NAMES+=("$1"); SECS+=(0); RCS+=(skipped)
  printf '%-12s %8s %5s\n' "$1" 0 skipped >> "$TIMINGS"
}

FULL_REPOS=(stable-diffusion-v1-5/stable-diffusion-v1-5 lllyasviel/control_v11f1p_sd15_depth
            stabilityai/stable-diffusion-xl-refiner-1.0)
# --gpu adds tests/gpu (fp16, offload, xformers, fast mode on CUDA); conftest refuses it without a CUDA device
GPU_OPT=(--gpu)
read -r -a BENCH_EXTRA <<< "${BENCH_ARGS:-}"

if stage install "${T_INSTALL:-120}" "$SELF" --install-only "$WHEELS"; then
  PATH="$(dirname "$PY"):$PATH"  # `python`/`pytest` in child processes resolve to the new env
  export PATH
  stage header "${T_HEADER:-15}" "$SELF" --header
  stage twins "${T_TWINS:-40}" "$PY" -m helpers.twins path
  # -p no:cacheprovider: the checkout may be read-only or shared. -o addopts=: one process (no pytest-xdist
  # offline; CUDA tests share one GPU), and no --nbval for .py files.
  # the browser test needs Chromium, which a GPU box without internet does not have; CPU CI runs it
  stage tests "${T_TESTS:-150}" "$PY" -m pytest -o addopts= tests "${GPU_OPT[@]}" --ignore=tests/test_browser.py \
    -p no:cacheprovider -q -rfEs \
    --junitxml="$OUT/junit-tests.xml"
  # Lax: outputs recorded on a CPU (image fingerprints) differ on a GPU; cells must still run without error.
  stage notebooks "${T_NOTEBOOKS:-75}" "$PY" -m pytest -o addopts= --nbval-lax notebooks -p no:cacheprovider \
    -q -rfEs --junitxml="$OUT/junit-notebooks.xml"
  # Built apart from the bench so their cost shows on its own line (bench would build them itself).
  stage full_twins "${T_FULL_TWINS:-60}" "$PY" -m tools.full_size path --only "${FULL_REPOS[@]}"
  stage bench "${T_BENCH:-200}" "$PY" -m tools.bench --models full --device cuda \
    --out "$OUT/bench-cuda.md" "${BENCH_EXTRA[@]}"
else
  echo "install failed: the later stages need its environment, so they are skipped"
  for s in header twins tests notebooks full_twins bench; do skip "$s"; done
fi

# ------------------------------------------------------------------------------------------------ summary
status=0
echo
echo "=================== summary (results in $OUT)"
printf '%-12s %8s %5s\n' stage seconds rc
for i in "${!NAMES[@]}"; do
  printf '%-12s %8s %5s\n' "${NAMES[$i]}" "${SECS[$i]}" "${RCS[$i]}"
  [[ "${RCS[$i]}" == 0 ]] || status=1
done
printf '%-12s %8s\n' total "$((SECONDS - START))" | tee -a "$TIMINGS"
if [[ "$status" == 0 ]]; then echo "gpu_check: all stages passed"; else echo "gpu_check: FAILED (see the rc column)"; fi
exit "$status"
