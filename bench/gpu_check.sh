#!/usr/bin/env bash
# The GPU check (docs/gpu.md): installs the vllm extra into .venv (CUDA torch first, as README says), then runs
# bench/gpu_check.py: evaluation with the hf and vllm engines (tokens/s, pass@1 agreement) and 5 GRPO steps
# with each rollout backend (seconds per step, log-prob mismatch), printed as one table.
#
#   bash bench/gpu_check.sh [--dry-run] [bench/gpu_check.py options: --model, --problems, --steps, --out, ...]
#
# --dry-run prints every command and the check's plan; nothing is installed or run. A failed install is
# reported in the table (row "environment"), and the check goes on: each stage reports its own failure.
# TORCH_INDEX picks the CUDA wheel index of torch (default cu128).
set -u
cd "$(dirname "$0")/.." || exit 1

DRY=0
ARGS=()
for a in "$@"; do
  if [ "$a" = "--dry-run" ]; then DRY=1; else ARGS+=("$a"); fi
done
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cu128}
PY=.venv/bin/python
INSTALL=ok

step() {  # step WHEN CMD...: print the command; run it unless --dry-run; a failure is recorded, not fatal
  local when=$1
  shift
  echo "+ ${when:+[$when] }$*"
  [ "$DRY" = 1 ] && return 0
  "$@"
  local rc=$?
  [ "$rc" -eq 0 ] || INSTALL="failed: $* (exit $rc)"
  return 0
}

if [ "$DRY" = 1 ] || [ ! -x "$PY" ]; then
  step "if .venv is missing" python3 -m venv .venv
fi
if [ "$DRY" = 1 ] || ! "$PY" -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)" 2>/dev/null; then
  step "if torch has no CUDA" "$PY" -m pip install torch --index-url "$TORCH_INDEX"
fi
if [ "$DRY" = 1 ] || ! "$PY" -c "import vllm, rlvr_bench" 2>/dev/null; then
  step "if vllm or rlvr_bench is missing" "$PY" -m pip install -e ".[vllm]"
fi

RUN_PY=$PY
[ -x "$RUN_PY" ] || RUN_PY=python3
if [ "$DRY" = 1 ]; then
  echo "+ $PY bench/gpu_check.py ${ARGS[*]+${ARGS[*]}}"
  exec "$RUN_PY" bench/gpu_check.py --dry-run ${ARGS[@]+"${ARGS[@]}"}
fi
GPU_CHECK_INSTALL="$INSTALL" exec "$RUN_PY" bench/gpu_check.py ${ARGS[@]+"${ARGS[@]}"}
