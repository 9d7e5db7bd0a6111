#!/usr/bin/env bash
# Run on an OFFLINE CUDA machine, from the repository root, after tools/prepare_wheels.sh filled WHEELS_DIR
# on an online machine:
#
#   tools/gpu_check.sh [WHEELS_DIR]                  # default wheels/; files to bring back in ${OUT:-build/gpu}
#   tools/gpu_check.sh --install-only [WHEELS_DIR]   # just the offline install and its checks
#   REHEARSE=1 tools/gpu_check.sh                    # on a CPU: every stage's code, CUDA decisions on, no install
#
# Stages, in priority order: whatever the budget cuts off is the least needed. Each runs under `timeout`, each
# writes its results as it finishes, and a failing stage does not stop the later ones (the script exits non-zero
# at the end). Only a failed install skips the rest, since every later stage runs in the environment it makes.
#   install     offline pip install from WHEELS_DIR over the machine's own CUDA torch
#   header      card, driver, versions
#   twins       build the tiny twins (seconds)
#   notebooks   (a) every chapter under nbval with the tiny twins: --nbval-lax, so only the
#               `# NBVAL_CHECK_OUTPUT` verdict cells are compared; each cell's text goes to notebooks/<chapter>.txt
#   sweep       (a) the accelerate sweep, one process
#   t4          (b) the heaviest steps inside a free Colab T4's 15 GiB (python -m tools.t4_check): full-size
#               models built in fp16 on the card, the allocator capped, the speed policy told the same budget
#   bench       (c) SD 1.5 text-to-image, 512², 50 steps: the book's settings, the default policy, fast mode
#               (python -m tools.bench --models built); fast mode's compile mode is COMPILE_MODE for this run only;
#               one UNet call of (b) and (c) is profiled, so a missed target comes with its top kernels
#   preview     the step preview's share of an SD 1.5 run, full size, 512², 20 steps (python -m tools.bench_preview);
#               its numbers are in the log and bench-preview.json in the archive
#   gpu_tests   tests/gpu (pytest --gpu), only when it changed since it last passed (tools/gpu_tests_passed.txt)
#
# What comes back: OUT holds at most 6 files: gpu_check.log, timings.txt, gpu_check.tar.gz (everything, the
# other files included), bench-cuda.json, t4-check.json, and gpu_tests_passed.txt after a pass of tests/gpu.
# The archive is rewritten after every stage, so a run stopped by an outer time limit still returns what it did.
#
# The machine's own CUDA torch is used as it is: the venv sees it through --system-site-packages, pip runs
# with --no-index (nothing can be fetched) and with a constraint pinning torch to the installed build, and the
# install stage fails loudly if torch's version or file changed or CUDA is not available afterwards.
#
# Environment knobs:
#   OUT=dir                the few files to bring back (default build/gpu); WORK=dir the rest (default build/gpu-work)
#   PYTHON=python3         the interpreter that holds the CUDA torch
#   VENV=.cache/gpu-venv   venv to create/reuse (--system-site-packages); VENV=none installs into PYTHON's env
#   REQUIRE_CUDA=1         0 lets the install check pass without CUDA (to rehearse the install on a CPU box)
#   REHEARSE=1             on a CPU: no install (PYTHON's env as it is), TUTORIAL_DEVICE=cpu with
#                          TUTORIAL_DECIDE_AS=cuda (fp16 weights, CUDA sizes and steps), tiny twins for t4 and
#                          bench, no gpu_tests; notebooks and sweep keep the CPU's decisions, as CI runs them
#                          (the chapters at CUDA sizes in fp16 take over 20 minutes each on 2 cores; their
#                          loading cells run with the CUDA decisions in tests/test_cuda_path.py)
#   BUDGET=470             seconds for all stages together; each stage's timeout is cut to what is left
#   SCALE=1                multiplies BUDGET's default and every stage timeout (a rehearsal's default: 8)
#   SKIP="sweep ..."       stages to leave out
#   T_INSTALL T_HEADER T_TWINS T_NOTEBOOKS T_SWEEP T_T4 T_BENCH T_PREVIEW T_GPU_TESTS   per-stage timeouts
#                          (seconds, before SCALE); the defaults, in order: 90 15 40 150 45 100 170 40 90
#   COMPILE_MODE=default   torch.compile mode for the bench's fast mode (users' fast mode keeps max-autotune,
#                          which took 315 s to compile on an H200: more than this budget has)
#   BENCH_ARGS="..."       extra arguments for `python -m tools.bench` (e.g. "--repeats 1")
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SELF="$ROOT/tools/$(basename "${BASH_SOURCE[0]}")"
cd "$ROOT" || exit 2

MODE=all
# --header and --gpu-tests are internal, for their stages: `timeout` runs programs, not shell functions
case "${1:-}" in --install-only|--header|--gpu-tests) MODE="${1#--}"; shift ;; esac
WHEELS="${1:-wheels}"
case "$WHEELS" in /*) ;; *) WHEELS="$ROOT/$WHEELS" ;; esac
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.cache/gpu-venv}"
REQUIRE_CUDA="${REQUIRE_CUDA:-1}"
export REHEARSE="${REHEARSE:-0}"
export TUTORIAL_MODELS=twins TUTORIAL_DEVICE=cuda
if [[ "$REHEARSE" == 1 ]]; then
  # A CPU rehearsal: the same stages and code, every decision a CUDA machine takes (fp16 files, sizes, steps),
  # in the environment PYTHON already has.
  export TUTORIAL_DEVICE=cpu TUTORIAL_DECIDE_AS=cuda
  REQUIRE_CUDA=0 VENV=none
fi
# The whole run is offline: fail fast instead of waiting on network timeouts.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_HUB_DISABLE_TELEMETRY=1 PIP_NO_INDEX=1
export PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1

OUT="${OUT:-build/gpu}"
WORK="${WORK:-build/gpu-work}"
case "$OUT" in /*) ;; *) OUT="$ROOT/$OUT" ;; esac
case "$WORK" in /*) ;; *) WORK="$ROOT/$WORK" ;; esac

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
      # --without-pip where the base interpreter lacks ensurepip: the parent's pip is reached through the .pth below
      "$PYTHON" -m venv --system-site-packages "$VENV" 2>/dev/null \
        || "$PYTHON" -m venv --system-site-packages --without-pip "$VENV" \
        || { echo "ERROR: could not create $VENV"; return 1; }
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
  # (setuptools) comes from the wheels folder.
  "${PIP[@]}" --no-deps -e . || fail=1  # requires-python (3.11-3.13) is checked by pip itself
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
    import os
    rehearsal = os.environ.get("REHEARSE") == "1"
    print("GPU:    none visible to torch" + (" (a rehearsal on the CPU)" if rehearsal else ""))
    raise SystemExit(0 if rehearsal else 1)
PY
}

# tests/gpu ran before: its fingerprint (the suite and the code it checks) and where it passed, if it did.
GPU_TESTS_COVER=(tests/gpu tests/conftest.py helpers/speed.py helpers/policy.py helpers/device.py tools/bench.py)
gpu_tests_fingerprint() {
  find "${GPU_TESTS_COVER[@]}" -type f -name '*.py' -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16
}
gpu_tests_then_record() {  # run tests/gpu; after a pass, write the record to commit as tools/gpu_tests_passed.txt
  "$PY" -m pytest -o addopts= tests/gpu --gpu -p no:cacheprovider -q -rfEs --junitxml="$WORK/junit-gpu-tests.xml" \
    || return $?
  { echo "fingerprint: $(gpu_tests_fingerprint)"
    echo "passed: $(date -u +%Y-%m-%d) on $("$PY" -c 'import torch; print(torch.cuda.get_device_name())'), commit" \
         "$(git rev-parse --short HEAD 2>/dev/null || echo n/a)"
  } > "$OUT/gpu_tests_passed.txt"
  cp -f "$OUT/gpu_tests_passed.txt" "$WORK/"
  echo "tests/gpu passed: commit $OUT/gpu_tests_passed.txt as tools/gpu_tests_passed.txt to skip it next time"
}

case "$MODE" in
  install-only) install_env; exit $? ;;
  header) header; exit $? ;;
  gpu-tests) gpu_tests_then_record; exit $? ;;
esac


# ------------------------------------------------------------------------------------------------ stages
# A rerun starts clean: results of an earlier run must never pass for this one's. WORK is this script's own
# folder (it refuses one that holds anything else); in OUT only the files it writes are removed.
if [[ -d "$WORK" && -n "$(ls -A "$WORK")" && ! -f "$WORK/timings.txt" ]]; then
  echo "ERROR: WORK=$WORK holds files that this script did not write; give an empty or new folder"; exit 2
fi
rm -rf "$WORK"
rm -f "$OUT"/{gpu_check.log,timings.txt,gpu_check.tar.gz,bench-cuda.json,t4-check.json,gpu_tests_passed.txt}
mkdir -p "$OUT" "$WORK" || exit 2
LOG="$OUT/gpu_check.log"
TIMINGS="$OUT/timings.txt"
ARCHIVE="$OUT/gpu_check.tar.gz"
: > "$LOG"
exec > >(tee -a "$LOG") 2>&1  # everything below, stages included, goes to the screen and the log
# A rehearsal runs fp16 on a CPU (the CUDA decisions), which is many times slower: its limits are scaled.
SCALE="${SCALE:-$([[ "$REHEARSE" == 1 ]] && echo 8 || echo 1)}"
BUDGET="${BUDGET:-$((470 * SCALE))}"  # under 8 minutes with room for the kill-after grace and the summary
SKIP=" ${SKIP:-} "
COMPILE_MODE="${COMPILE_MODE:-default}"
START=$SECONDS
NAMES=() SECS=() RCS=()
printf '%-12s %8s %8s %5s\n' stage seconds limit rc > "$TIMINGS"

# pack: everything of this run into one archive beside the log, rewritten after each stage.
pack() {
  cp -f "$LOG" "$TIMINGS" "$WORK/" 2>/dev/null
  tar -czf "$ARCHIVE.part" -C "$(dirname "$WORK")" "$(basename "$WORK")" && mv -f "$ARCHIVE.part" "$ARCHIVE"
}
record() {  # record NAME SECONDS LIMIT RC
  NAMES+=("$1"); SECS+=("$2"); RCS+=("$4")
  printf '%-12s %8s %8s %5s\n' "$1" "$2" "$3" "$4" >> "$TIMINGS"
  pack
}
# stage NAME TIMEOUT CMD...: run CMD under `timeout`, cut to the budget left; record wall time and exit code.
stage() {
  local name="$1" limit="$(($2 * SCALE))"; shift 2
  local left=$((BUDGET - (SECONDS - START))) t0 rc
  if [[ "$SKIP" == *" $name "* ]]; then
    echo; echo "=================== $name: SKIPPED (SKIP names it)"; record "$name" 0 "$limit" skipped; return 0
  fi
  (( limit > left )) && limit=$left
  echo
  echo "=================== $name (timeout ${limit}s, $((SECONDS - START))s of ${BUDGET}s used) $(date -u +%H:%M:%S)"
  t0=$SECONDS
  if (( limit < 5 )); then
    echo "SKIPPED: under 5 s left for it (stage timeout or the ${BUDGET}s budget)"; rc=125
  else
    timeout --kill-after=10 "$limit" "$@"; rc=$?
    (( rc == 124 || rc == 137 )) && echo "TIMEOUT: $name ran past ${limit}s"
  fi
  record "$name" "$((SECONDS - t0))" "$limit" "$rc"
  return "$rc"
}
skip() {  # skip NAME WHY: a stage that cannot run here
  echo; echo "=================== $1: not run ($2)"; record "$1" 0 - "not-run"
}

read -r -a BENCH_EXTRA <<< "${BENCH_ARGS:-}"
if [[ "$REHEARSE" == 1 ]]; then
  INSTALL_CMD=(true)  # the rehearsal uses PYTHON's environment as it is
  CPU_DECISIONS=(env -u TUTORIAL_DECIDE_AS)
  T4_ARGS=(--device cpu --models twins)
  BENCH_MODELS=(--models twins --device cpu)
  PREVIEW_ARGS=(--device cpu --size 128 --steps 3 --repeats 1)
else
  INSTALL_CMD=("$SELF" --install-only "$WHEELS")
  CPU_DECISIONS=()
  T4_ARGS=(--device cuda --models built)
  BENCH_MODELS=(--models built --device cuda)
  PREVIEW_ARGS=(--device cuda --size 512 --steps 20)
fi

echo "gpu_check: budget ${BUDGET}s; results in $OUT (the rest of the files in $WORK)"
# The machine's own packages, before anything is installed: tools/gpu_machine.txt can be made exact from this.
"$PYTHON" -m pip list --format=freeze > "$WORK/pip-freeze-machine.txt" 2>/dev/null
if stage install "${T_INSTALL:-90}" "${INSTALL_CMD[@]}"; then
  PATH="$(dirname "$PY"):$PATH"  # `python`/`pytest` in child processes resolve to the new env
  export PATH
  stage header "${T_HEADER:-15}" "$SELF" --header
  stage twins "${T_TWINS:-40}" "$PY" -m helpers.twins path
  # (a) Lax: outputs recorded on a CPU (image fingerprints) differ on a GPU; cells must run without error, and the
  # `# NBVAL_CHECK_OUTPUT` cells (the verdict lines) must print what they printed on the CPU.
  rm -rf "$WORK/notebooks"
  stage notebooks "${T_NOTEBOOKS:-150}" "${CPU_DECISIONS[@]}" "$PY" -m pytest -o addopts= --nbval-lax notebooks \
    --nbval-current-env -p no:cacheprovider \
    -q -rfEs -p tools.nbval_outputs --nbval-outputs "$WORK/notebooks" --junitxml="$WORK/junit-notebooks.xml"
  stage sweep "${T_SWEEP:-45}" "${CPU_DECISIONS[@]}" "$PY" -m accelerate.commands.launch --num_processes 1 -m tools.sweep \
    --steps 20 --size 512 --out "$WORK/sweep.png" --overwrite
  # (b) The T4 budget: full-size fp16 weights made on the card, the allocator capped, the policy told so.
  stage t4 "${T_T4:-100}" "$PY" -m tools.t4_check "${T4_ARGS[@]}" --out "$WORK/t4-check.json"
  cp -f "$WORK/t4-check.json" "$OUT/" 2>/dev/null
  # (c) Speed: the three settings in one run, on one card.
  stage bench "${T_BENCH:-170}" "$PY" -m tools.bench "${BENCH_MODELS[@]}" --workloads sd15_t2i \
    --compile-mode "$COMPILE_MODE" --profile --out "$WORK/bench-cuda.md" "${BENCH_EXTRA[@]}"
  cp -f "$WORK/bench-cuda.json" "$OUT/" 2>/dev/null
  # (d) The step preview's cost on a full-size run: it may take at most 10 % of the run.
  stage preview "${T_PREVIEW:-40}" "$PY" -m tools.bench_preview "${PREVIEW_ARGS[@]}" --out "$WORK/bench-preview.json"
  # tests/gpu: last, and only when it changed since it passed.
  if [[ "$REHEARSE" == 1 ]]; then
    skip gpu_tests "a rehearsal: pytest --gpu needs a CUDA device"
  elif [[ -f tools/gpu_tests_passed.txt ]] \
       && grep -qx "fingerprint: $(gpu_tests_fingerprint)" tools/gpu_tests_passed.txt; then
    skip gpu_tests "unchanged since it passed: $(grep '^passed:' tools/gpu_tests_passed.txt)"
  else
    stage gpu_tests "${T_GPU_TESTS:-90}" "$SELF" --gpu-tests
  fi
else
  echo "install failed: the later stages need its environment, so they are skipped"
  for s in header twins notebooks sweep t4 bench preview gpu_tests; do skip "$s" "the install failed"; done
fi

# ------------------------------------------------------------------------------------------------ summary
status=0
echo
echo "=================== summary (bring back $OUT; everything is in $ARCHIVE)"
printf '%-12s %8s %9s\n' stage seconds rc
for i in "${!NAMES[@]}"; do
  printf '%-12s %8s %9s\n' "${NAMES[$i]}" "${SECS[$i]}" "${RCS[$i]}"
  case "${RCS[$i]}" in 0|skipped|not-run) ;; *) status=1 ;; esac
done
printf '%-12s %8s\n' total "$((SECONDS - START))" | tee -a "$TIMINGS"
for f in "$WORK"/notebooks/*.txt; do  # each chapter's outcome in one line: what the learner's checks said
  [[ -f "$f" ]] || continue
  echo "$(basename "$f" .txt): $(grep -c '^==== .* \[passed\]' "$f") cells passed, $(grep -c '^==== .* \[failed\]' "$f") failed"
done
pack
if [[ "$status" == 0 ]]; then echo "gpu_check: all stages passed"; else echo "gpu_check: FAILED (see the rc column)"; fi
exit "$status"
