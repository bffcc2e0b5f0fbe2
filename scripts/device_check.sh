#!/usr/bin/env bash
# The GPU check of issue 9, as one prepared command for a lent GPU machine (device tool):
#   run(command="bash scripts/device_check.sh", timeout_s=540)
# Builds hea_fast in place with HEA_FAST_CUDA=ON for the visible GPU, runs every CUDA parity test,
# a compute-sanitizer memcheck of each kernel family (the parity tests under the sanitizer) and
# scripts/device_bench.py; logs and figures land in $OUT (default /tmp/hea_device_out).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/hea_device_out}
mkdir -p "$OUT"
PY=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD
nvidia-smi -L | tee "$OUT/gpu.txt"
{ "$PY" -c "import torch; print('torch', torch.__version__, torch.version.cuda)"; nvcc --version | tail -1; } | tee -a "$OUT/gpu.txt"

# 1. build (the wheel's architectures plus the visible GPU's are compiled in)
t0=$(date +%s)
PATH=$PATH PYTHON=$PY HEA_FAST_CUDA=ON HEA_BUILD_DIR=build/device JOBS=16 scripts/dev_build.sh > "$OUT/build.log" 2>&1 \
  || { tail -40 "$OUT/build.log"; exit 1; }
echo "build: $(( $(date +%s) - t0 )) s"

# 2. parity tests (CUDA vs CPU on fresh random inputs, every kernel family); needs no data home
TESTS="tests/test_cuda_build.py tests/test_descriptors.py tests/test_lattice.py tests/test_masked_l0.py
       tests/test_wbic.py tests/test_pseudoimage.py tests/test_xyield_grid.py tests/test_maresca_curtin.py
       tests/test_screen_cuda.py"
HEA_FAST_EXPECT_CUDA=1 "$PY" -m pytest -p no:cacheprovider -q -rs -k "cuda" $TESTS 2>&1 | tee "$OUT/parity.log" | tail -15

# 3. compute-sanitizer memcheck over the same tests (slow: the sanitizer serialises every launch)
if command -v compute-sanitizer >/dev/null 2>&1; then
  timeout 180 compute-sanitizer --tool memcheck --error-exitcode 86 --target-processes all \
    "$PY" -m pytest -p no:cacheprovider -q -x -k "cuda" $TESTS > "$OUT/memcheck.log" 2>&1
  echo "memcheck exit: $? (0 clean, 86 errors found, 124 timed out)" | tee -a "$OUT/memcheck.log"
  grep -E "ERROR SUMMARY|passed|failed" "$OUT/memcheck.log" | tail -3
fi

# 4. figures against the CPU in the same process and the memory-bandwidth floor
timeout 240 "$PY" scripts/device_bench.py --out "$OUT/gpu_bench.json" 2>&1 | tee "$OUT/bench.log"
