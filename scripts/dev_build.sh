#!/usr/bin/env bash
# In-place development build: compiles hea_fast._core (and _cuda when HEA_FAST_CUDA=ON/AUTO) into
# $HEA_BUILD_DIR (default build/dev) and copies the modules into hea_fast/ atomically, so tests can
# run from the source tree with PYTHONPATH=. (releases use `pip install .`).
#   HEA_FAST_CUDA=OFF (default here) | AUTO | ON ; PYTHON=path/to/python
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
BUILD=${HEA_BUILD_DIR:-build/dev}
CUDA=${HEA_FAST_CUDA:-OFF}
gen=()
command -v ninja >/dev/null 2>&1 && gen=(-G Ninja)
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
  cmake -S . -B "$BUILD" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release -DHEA_FAST_CUDA="$CUDA" \
    -DPython_EXECUTABLE="$("$PYTHON" -c 'import sys; print(sys.executable)')" \
    -Dpybind11_DIR="$("$PYTHON" -m pybind11 --cmakedir)" >/dev/null
fi
cmake --build "$BUILD" -j "${JOBS:-2}"
for m in "$BUILD"/_core*.so "$BUILD"/_cuda*.so; do
  [ -e "$m" ] || continue
  b=$(basename "$m")
  cp "$m" "hea_fast/.$b.tmp.$$" && mv -f "hea_fast/.$b.tmp.$$" "hea_fast/$b"
done
echo "dev build ok: $(ls hea_fast/*.so | tr '\n' ' ')"
