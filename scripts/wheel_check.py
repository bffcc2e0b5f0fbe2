"""Check a built wheel the way a user meets it: `make wheel-check` (after `make wheel`).

    python scripts/wheel_check.py dist/wheelhouse/hea_fast-*.whl dist/hea_fast-*.tar.gz

0. The sdist's file list: everything a build from it needs (pyproject.toml, CMakeLists.txt,
   README.md and every file of csrc/ and hea_fast/ in the source tree, tracked or new, minus
   .gitignore'd ones), so `pip install hea_fast-*.tar.gz` builds where no wheel fits.
1. The wheel's file list: one compiled `_core`, no `_cuda` (the CUDA module is a source build),
   every file under hea_fast/data and hea_fast/datasets/metadata.json of the source tree (tracked or
   new, minus .gitignore'd ones), the typing stubs and py.typed, no tests.
2. A fresh virtualenv in a temporary directory outside the source tree; `pip install <wheel>`
   without extras; `pip list` must show none of torch, pyro-ppl, matplotlib, dask, tqdm, safetensors.
3. scripts/wheel_smoke.py, copied into that directory and run there with the venv's interpreter
   (--no-extras) and no data home, so nothing of the checkout can leak in.
Exits non-zero on any failure. Prints the time each step took.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXTRA_PACKAGES = ("torch", "pyro-ppl", "matplotlib", "dask", "distributed", "tqdm", "safetensors")


def step(name):
    def deco(fn):
        def run(*a, **k):
            t = time.perf_counter()
            out = fn(*a, **k)
            print(f"wheel-check: {name}: ok ({time.perf_counter() - t:.1f} s)", flush=True)
            return out
        return run
    return deco


def source_files(*paths: str) -> set[str]:
    """Files of the source tree under `paths` (tracked or new, minus .gitignore'd ones), repo-relative."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", *paths],
                             cwd=ROOT, capture_output=True, text=True, check=True).stdout.split("\0")
        files = {f for f in out if f and (ROOT / f).is_file()}
    except (OSError, subprocess.CalledProcessError):  # not a git checkout: everything on disk
        files = {q.relative_to(ROOT).as_posix() for p in paths for q in [ROOT / p, *(ROOT / p).rglob("*")]
                 if q.is_file() and q.suffix not in (".so", ".pyc")}
    files = {f for f in files if "__pycache__" not in f}
    if not files:
        raise SystemExit(f"wheel-check: found no files under {paths} in the source tree")
    return files


@step("sdist contents")
def check_sdist(sdist: Path) -> None:
    with tarfile.open(sdist) as tf:
        names = {m.name.split("/", 1)[1] for m in tf.getmembers() if m.isfile() and "/" in m.name}
    need = source_files("pyproject.toml", "CMakeLists.txt", "README.md", "csrc", "hea_fast")
    missing = sorted(need - names)
    if missing:
        raise SystemExit(f"wheel-check: missing from {sdist.name}: {missing[:20]}")
    print(f"wheel-check: {sdist.name}: {len(names)} files, all {len(need)} build inputs present")


@step("wheel contents")
def check_contents(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    problems = []
    cores = [n for n in names if n.startswith("hea_fast/_core.") and n.endswith(".so")]
    if len(cores) != 1:
        problems.append(f"expected one compiled hea_fast/_core*.so, found {cores}")
    cuda = [n for n in names if n.startswith("hea_fast/_cuda") and n.endswith(".so")]
    if cuda:
        problems.append(f"the CPU wheel carries a CUDA module {cuda} (build it with HEA_FAST_CUDA=OFF)")
    need = source_files("hea_fast/data") | {"hea_fast/datasets/metadata.json", "hea_fast/py.typed", "hea_fast/_core.pyi", "hea_fast/_cuda.pyi",
                                  "hea_fast/__init__.py", "hea_fast/cli.py"}
    missing = sorted(need - names)
    if missing:
        problems.append(f"missing from the wheel: {missing}")
    stray = sorted(n for n in names if n.startswith(("tests/", "benchmarks/", "csrc/", "build/")))
    if stray:
        problems.append(f"source-tree files in the wheel: {stray[:10]}")
    if problems:
        raise SystemExit("wheel-check: " + "\n  ".join([f"{wheel.name}:"] + problems))
    print(f"wheel-check: {wheel.name}: {len(names)} files, {len(need)} required present")


@step("fresh venv + pip install <wheel> (no extras)")
def install(wheel: Path, venv: Path) -> Path:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = venv / "bin" / "python"
    subprocess.run([str(py), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)], check=True)
    listed = subprocess.run([str(py), "-m", "pip", "list", "--format=freeze", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True).stdout
    have = {line.split("==")[0].lower().replace("_", "-") for line in listed.split()}
    extra = sorted(have & set(EXTRA_PACKAGES))
    if extra:
        raise SystemExit(f"wheel-check: `pip install {wheel.name}` without extras installed {extra}")
    for need in ("hea-fast", "numpy", "scipy", "pandas", "pyarrow", "scikit-learn"):
        if need not in have:
            raise SystemExit(f"wheel-check: {need} is not installed after `pip install {wheel.name}`")
    print(f"wheel-check: installed {len(have)} distributions, none of {list(EXTRA_PACKAGES)}")
    return py


@step("smoke suite in the fresh venv")
def smoke(py: Path, workdir: Path) -> None:
    script = workdir / "wheel_smoke.py"
    shutil.copy(ROOT / "scripts" / "wheel_smoke.py", script)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "HEA_FAST_DATA", "VIRTUAL_ENV")}
    env["PATH"] = f"{py.parent}{os.pathsep}{env.get('PATH', '')}"
    env["HEA_FAST_DATA"] = str(workdir / "no-data-home")  # the wheel alone: no shared datasets,
    env["HEA_FAST_OFFLINE"] = "1"  # and no downloads
    r = subprocess.run([str(py), str(script), "--no-extras"], cwd=workdir, env=env)
    if r.returncode != 0:
        raise SystemExit(f"wheel-check: the smoke suite failed (exit {r.returncode})")


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        raise SystemExit("usage: wheel_check.py WHEEL SDIST")
    wheel, sdist = (Path(a).resolve() for a in argv)
    for f in (wheel, sdist):
        if not f.is_file():
            raise SystemExit(f"wheel-check: no file {f} (run `make wheel`)")
    t0 = time.perf_counter()
    check_sdist(sdist)
    check_contents(wheel)
    with tempfile.TemporaryDirectory(prefix="hea-wheel-check-") as tmp:
        tmp = Path(tmp).resolve()
        if ROOT in tmp.parents:
            raise SystemExit(f"wheel-check: temporary directory {tmp} is inside the source tree")
        py = install(wheel, tmp / "venv")
        smoke(py, tmp)
    print(f"wheel-check: {wheel.name} passed in {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
