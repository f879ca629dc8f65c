#!/usr/bin/env bash
# Train on a lent GPU in one call of the device tool, all within a hard time limit:
#   run(command="bash benchmarks/gpu_train.sh", carry=["packed", ".whl"], timeout_s=600)
# before which, on this machine: python benchmarks/pack_training_data.py (→ packed/) and the
# wheels the GPU image lacks (→ .whl/; README, Training, "With a GPU"). Results land in $OUT.
# CPU rehearsal: OUT=/tmp/gpu-rehearsal bash benchmarks/gpu_train.sh --device cpu --tiny --budget-s 240
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/gpu}"
mkdir -p "$OUT"
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c "import zstandard, constriction" 2>/dev/null; then
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/eegzip-site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/eegzip-site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.used,memory.total,clocks.sm --format=csv 2>/dev/null
timeout -k 10 "${GPU_TRAIN_LIMIT_S:-570}" "$PYTHON" benchmarks/gpu_train.py --out "$OUT" "$@" \
  2>&1 | tee "$OUT/gpu_train.log"
