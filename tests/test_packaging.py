"""Packaging: the light core works without the extras, features name the extra they need, the extras
table agrees with pyproject.toml, and the typing stubs cover the compiled modules.

Missing packages are simulated in a subprocess by a meta-path finder that refuses them (as if they
were not installed), so the test process keeps its torch/matplotlib/dask.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hea_fast
from hea_fast import _extras

ROOT = Path(__file__).resolve().parents[1]
PKG = Path(hea_fast.__file__).resolve().parent  # the imported package: installed or the source tree

BLOCKER = '''
import sys
BLOCKED = {blocked!r}
class _NotInstalled:
    """Refuses the blocked top-level packages, as an environment without them would."""
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None
sys.meta_path.insert(0, _NotInstalled())
'''
EXTRAS_PACKAGES = ("torch", "pyro", "matplotlib", "tqdm", "dask", "distributed", "safetensors", "lightgbm")


def run_without(blocked, body: str, tmp_path, timeout=300) -> subprocess.CompletedProcess:
    """Run `body` in a fresh interpreter in which the packages `blocked` cannot be imported."""
    script = BLOCKER.format(blocked=set(blocked)) + textwrap.dedent(body)
    env = {k: v for k, v in __import__("os").environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(PKG.parent)  # the same hea_fast as this process, from any cwd
    r = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=timeout)
    assert r.returncode == 0, f"exit {r.returncode}\nstdout:\n{r.stdout[-3000:]}\nstderr:\n{r.stderr[-5000:]}"
    return r


# ------------------------------------------------------------------------------------------------
# the light core
# ------------------------------------------------------------------------------------------------
def test_light_core_works_without_the_extras(tmp_path):
    """parse, featurize, the default phase model, a small mixture screen, Maresca-Curtin, the datasets
    catalogue and the CLI's help, with torch, pyro, matplotlib, tqdm, dask and safetensors absent;
    none of them gets imported."""
    r = run_without(EXTRAS_PACKAGES, '''
        import math
        import hea_fast, hea_fast.features, hea_fast.screen, hea_fast.mixture, hea_fast.datasets
        import hea_fast.xyield, hea_fast.xyield.maresca_curtin, hea_fast.xyield.grid
        import numpy as np
        from hea_fast.mixture import SparseMixtureClassifier
        from hea_fast.screen import CompositionSpace, MixtureScorer, screen

        f = hea_fast.parse_formula("Al0.5CoCrFeNi")
        assert abs(f["Al"] - 0.5 / 4.5) < 1e-12, f
        d = hea_fast.featurize(["CoCrFeNi", "Al0.5CoCrFeNi"])
        assert abs(d["dS_mix"].iloc[0] - 8.314462618 * math.log(4)) < 1e-9, d["dS_mix"]

        model = SparseMixtureClassifier.load_default()
        # progress=True: the plain-text bar stands in for tqdm
        res = screen(CompositionSpace(("Al", "Co", "Cr", "Fe", "Ni"), 3, 10), MixtureScorer(model), top_k=10,
                     progress=True)
        assert res.n_scored == 10 * 36 and len(res.top) == 10, (res.n_scored, len(res.top))
        p = model.predict_proba(list(res.top["formula"]))[:, 1]
        assert np.all(np.abs(p - res.top["p_single"].to_numpy()) < 0.02)  # probit vs MC predictive

        from hea_fast.xyield import yield_strength, yield_strength_reference
        s = yield_strength(["NbTaTiV", "MoNbTaW"], 300.0)
        assert np.allclose(s, yield_strength_reference(["NbTaTiV", "MoNbTaW"], 300.0), rtol=1e-9), s

        from hea_fast.datasets import catalog
        from hea_fast.cli import main
        try:
            main(["--help"])
        except SystemExit as e:
            assert e.code in (0, None), e.code
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
        assert not loaded, loaded
        print("light core ok")
    ''', tmp_path)
    assert "light core ok" in r.stdout
    assert "usage" in r.stdout.lower()  # the CLI printed its help


@pytest.mark.parametrize("missing, extra, feature, access", [
    (("torch",), "ssvae", "hea_fast.ssvae", "import hea_fast.ssvae as m; m.load_model"),
    (("pyro",), "ssvae", "hea_fast.ssvae", "from hea_fast.ssvae import SSVAE"),
    (("torch",), "ssvae", "hea_fast.ssvae", "import hea_fast.ssvae.training"),
    (("torch",), "xyield", "hea_fast.xyield", "import hea_fast.xyield.cnn"),
    (("torch",), "xyield", "hea_fast.xyield", "import hea_fast.xyield.sparsity"),
    (("safetensors",), "xyield", "hea_fast.xyield", "import hea_fast.xyield.protocol"),
    (("torch",), "xyield", "hea_fast.xyield", "import hea_fast.xyield.masked_l0"),
    (("distributed",), "dask", "hea_fast.screen.dask",
     "from hea_fast.screen.dask import screen_dask; screen_dask(*[None] * 11)"),
    (("lightgbm",), "lightgbm", "the lgbm validation model",
     "from hea_fast.validation.models import make_model; make_model('lgbm')"),
])
def test_a_feature_without_its_extra_names_it(tmp_path, missing, extra, feature, access):
    r = run_without(missing, f'''
        try:
            {access}
        except ImportError as exc:
            print("ERROR:", exc)
        else:
            raise SystemExit("no ImportError")
    ''', tmp_path)
    msg = r.stdout.split("ERROR:", 1)[1].strip()
    assert f"pip install 'hea_fast[{extra}]'" in msg, msg
    assert msg.startswith(feature), msg
    assert f"{_extras.pip_name(missing[0])} is not installed" in msg, msg


def test_plots_without_matplotlib_names_the_extra(tmp_path):
    r = run_without(("matplotlib",), '''
        from hea_fast.plots import pyplot
        try:
            pyplot()
        except ImportError as exc:
            print("ERROR:", exc)
    ''', tmp_path)
    assert "pip install 'hea_fast[plots]'" in r.stdout, r.stdout


def test_require_in_process(monkeypatch):
    monkeypatch.setitem(sys.modules, "pyro", None)  # "import pyro" now fails as if not installed
    with pytest.raises(ImportError) as ei:
        _extras.require(("numpy", "pyro"), "ssvae", "hea_fast.ssvae")
    assert str(ei.value) == ("hea_fast.ssvae needs numpy and pyro-ppl (pyro-ppl is not installed): "
                             "pip install 'hea_fast[ssvae]'")
    assert isinstance(ei.value.__cause__, ImportError)  # the original error is kept
    _extras.require("numpy", "plots", "x")  # present: no error
    with pytest.raises(ValueError, match="unknown extra 'torch'"):
        _extras.require("numpy", "torch", "x")


def test_a_broken_install_is_reported_as_such(tmp_path):
    """A package that is installed but fails to import is not called 'not installed'."""
    (tmp_path / "pyro").mkdir()
    (tmp_path / "pyro" / "__init__.py").write_text("import _no_such_dependency_\n")
    sys.path.insert(0, str(tmp_path))
    saved = sys.modules.pop("pyro", None)
    try:
        with pytest.raises(ImportError, match=r"importing pyro failed: No module named '_no_such_dependency_'"):
            _extras.require(("pyro",), "ssvae", "hea_fast.ssvae")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("pyro", None)
        if saved is not None:
            sys.modules["pyro"] = saved


def test_extras_agree_with_pyproject():
    tomllib = pytest.importorskip("tomllib")
    path = ROOT / "pyproject.toml"
    if not path.is_file():
        pytest.skip(f"no {path} (tests run outside the source tree)")
    project = tomllib.loads(path.read_text())["project"]

    def names(reqs):
        return {re.split(r"[\[<>=!~; ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in reqs}

    # threadpoolctl (scikit-learn's own dependency) is named: the applicability domain imports it directly
    assert names(project["dependencies"]) == {"numpy", "scipy", "pandas", "pyarrow", "scikit-learn", "threadpoolctl"}
    opt = project["optional-dependencies"]
    for extra, modules in _extras.EXTRAS.items():
        assert extra in opt, f"pyproject.toml has no [{extra}] extra"
        want = {_extras.pip_name(m).split("[")[0] for m in modules}
        assert want <= names(opt[extra]), (extra, want, opt[extra])
    all_ = opt["all"]
    assert all_ == [f"hea_fast[{','.join(_extras.EXTRAS)}]"], all_
    assert "hea_fast[all]" in opt["dev"]


# ------------------------------------------------------------------------------------------------
# typing stubs of the compiled modules
# ------------------------------------------------------------------------------------------------
def _split_top(s: str) -> list[str]:
    """Split a parameter list at the commas outside brackets and quotes."""
    out, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


def _runtime_params(obj, name: str) -> list[tuple[str, bool, bool]]:
    """(name, has_default, keyword_only) of each parameter, from pybind11's signature docstring line."""
    doc = obj.__doc__ or ""
    assert "Overloaded function" not in doc, f"{name}: overloaded bindings are not supported by this check"
    first = doc.lstrip().splitlines()[0]
    m = re.match(rf"{re.escape(name)}\((.*)\)\s*->", first)
    assert m, f"{name}: no pybind11 signature in its docstring: {first!r}"
    params, kw_only = [], False
    for part in _split_top(m.group(1)):
        if part == "*":
            kw_only = True
            continue
        pname = re.split(r"[:=]", part, maxsplit=1)[0].strip()
        if pname == "self":
            continue
        params.append((pname, bool(re.search(r"\s=\s", part)), kw_only))
    return params


def _stub_params(fn: ast.FunctionDef) -> list[tuple[str, bool, bool]]:
    a = fn.args
    pos = a.posonlyargs + a.args
    first_default = len(pos) - len(a.defaults)
    out = [(p.arg, i >= first_default, False) for i, p in enumerate(pos) if p.arg != "self"]
    out += [(p.arg, d is not None, True) for p, d in zip(a.kwonlyargs, a.kw_defaults)]
    return out


def _stub_namespace(body) -> dict[str, ast.AST]:
    ns = {}
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            ns[node.name] = node
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            ns[node.target.id] = node
        elif isinstance(node, ast.Assign):
            for t in node.targets:
                if isinstance(t, ast.Name):
                    ns[t.id] = node
    return ns


def _public(names) -> set[str]:
    return {n for n in names if not n.startswith("_")}


def _compare_module(module, stub_path: Path) -> list[str]:
    assert stub_path.is_file(), f"no stub {stub_path}"
    stub = _stub_namespace(ast.parse(stub_path.read_text(encoding="utf-8")).body)
    problems = []
    runtime = _public(dir(module)) | {"__version__"} & set(dir(module))
    for n in sorted(runtime - set(stub)):
        problems.append(f"{module.__name__}.{n} has no stub in {stub_path.name}")
    for n in sorted(_public(stub) - runtime):
        problems.append(f"{stub_path.name} declares {n}, which {module.__name__} does not have")
    for n in sorted(runtime & set(stub)):
        obj, node = getattr(module, n), stub[n]
        if callable(obj) and not isinstance(obj, type):
            if not isinstance(node, ast.FunctionDef):
                problems.append(f"{n}: a function in the module, not in the stub")
            elif _runtime_params(obj, n) != _stub_params(node):
                problems.append(f"{n}: parameters {_runtime_params(obj, n)} in the module, "
                                f"{_stub_params(node)} in the stub")
        elif isinstance(obj, type):
            if not isinstance(node, ast.ClassDef):
                problems.append(f"{n}: a class in the module, not in the stub")
                continue
            members = _stub_namespace(node.body)
            for m in sorted((_public(vars(obj)) | {"__init__"}) - set(members)):
                problems.append(f"{n}.{m} has no stub")
            for m in sorted(_public(members) - _public(vars(obj))):
                problems.append(f"the stub declares {n}.{m}, which the class does not have")
            for m in sorted((_public(vars(obj)) | {"__init__"}) & set(members)):
                attr = vars(obj)[m]
                if isinstance(attr, property):
                    decos = [getattr(d, "id", None) for d in getattr(members[m], "decorator_list", [])]
                    if "property" not in decos:
                        problems.append(f"{n}.{m} is a property; its stub lacks @property")
                elif _runtime_params(attr, m) != _stub_params(members[m]):
                    problems.append(f"{n}.{m}: parameters {_runtime_params(attr, m)} in the module, "
                                    f"{_stub_params(members[m])} in the stub")
    return problems


def test_split_top_and_signature_parser():
    """The docstring parser the stub check relies on, on a pybind11-style line with nested brackets,
    a quoted default containing commas and a keyword-only marker."""
    class F:
        __doc__ = ("f(a: tuple[int, float], b: str = 'x, y', *, c: typing.Annotated[list[int], 3] = None, "
                   "d: float) -> dict[str, int]\n\nDoc.")
    assert _runtime_params(F, "f") == [("a", False, False), ("b", True, False), ("c", True, True),
                                       ("d", False, True)]
    fn = ast.parse("def f(a, b='x, y', *, c=None, d): ...").body[0]
    assert _stub_params(fn) == _runtime_params(F, "f")


def test_core_stub_matches_the_module():
    """Every public name of hea_fast._core is in _core.pyi with the same parameters, and nothing more:
    a new or changed kernel without its stub fails here."""
    from hea_fast import _core

    problems = _compare_module(_core, PKG / "_core.pyi")
    assert not problems, "hea_fast/_core.pyi is out of step with the module:\n" + "\n".join(problems)


def test_cuda_stub_matches_the_bindings():
    """Every name csrc/bindings/cuda_*.cpp binds is in _cuda.pyi (from the sources, so it runs without
    a CUDA build); with a built _cuda the parameters are checked as for _core."""
    stub = _stub_namespace(ast.parse((PKG / "_cuda.pyi").read_text(encoding="utf-8")).body)
    src_dir = ROOT / "csrc" / "bindings"
    if src_dir.is_dir():
        src = "\n".join(p.read_text() for p in sorted(src_dir.glob("cuda_*.cpp")) + [src_dir / "module_cuda.cpp"])
        src += (src_dir / "wbic_args.h").read_text()  # def_wbic_subsets binds "wbic_subsets" for both modules
        functions = set(re.findall(r'\bm\.def\(\s*"(\w+)"', src))
        if "hb::def_wbic_subsets(" in src:
            functions.add("wbic_subsets")
        classes = set(re.findall(r'py::class_<[^>]*(?:<[^>]*>[^>]*)*>\(\s*m,\s*"(\w+)"', src))
        assert functions and classes, "found no bindings in csrc/bindings/cuda_*.cpp"
        missing = sorted((functions | classes) - set(stub))
        stale = sorted(_public(stub) - functions - classes)
        assert not missing and not stale, f"_cuda.pyi: missing {missing}, not bound {stale}"
        for cls in classes:
            body = src[re.search(rf'py::class_<[^(]*\(\s*m,\s*"{cls}"', src).end():]
            body = body[:body.index("\n}")]  # to the end of the bind_cuda_* function
            members = set(re.findall(r'\.def(?:_property_readonly|_property)?\(\s*"(\w+)"', body))
            have = _public(_stub_namespace(stub[cls].body))
            assert members == have, f"_cuda.pyi {cls}: bound {sorted(members)}, stubbed {sorted(have)}"
    try:
        from hea_fast import _cuda
    except ImportError:
        return  # no CUDA build here: the source check above is what runs
    problems = _compare_module(_cuda, PKG / "_cuda.pyi")
    assert not problems, "hea_fast/_cuda.pyi is out of step with the module:\n" + "\n".join(problems)


def test_package_is_marked_typed():
    assert (PKG / "py.typed").is_file()
