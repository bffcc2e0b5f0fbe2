"""The layout rules of DESIGN.md and ARCHITECTURE.md, checked on the source (AST, not regexes):
imports point down the layer table, nothing outside the CLI imports the CLI, no private name is
imported across modules, kernels are assumed built, and no module grows past 600 lines."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "hea_fast"

# Layer of each top-level module or subpackage of hea_fast: a module may import its own layer or
# lower ones (within its own package anything). ARCHITECTURE.md shows the same table.
LAYERS = {
    "_io": 0, "_backend": 0, "_core": 0, "_cuda": 0, "_lazy": 0, "_progress": 0, "_extras": 0, "parse": 0,
    "composition": 1,
    "datasets": 2, "lattice": 2,
    "elements": 3,
    "features": 4, "descriptor_transformer": 4,
    "mixture": 5, "ssvae": 5, "xyield": 5, "phase": 5,
    "validation": 6, "screen": 6,
    "plots": 1,  # a leaf: matplotlib set-up and figure saving, imports nothing of hea_fast
    "commands": 8, "cli": 8, "__main__": 8,
}


def _modules():
    return sorted(p for p in PKG.rglob("*.py") if "__pycache__" not in p.parts)


def _top(path: Path) -> str:
    rel = path.relative_to(PKG)
    return rel.parts[0].removesuffix(".py")


def _imports(path: Path):
    """(line, imported module, imported names) for every import, including lazy ones in functions."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    pkg_parts = ["hea_fast", *path.relative_to(PKG).parent.parts]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name, []
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = pkg_parts[: len(pkg_parts) - (node.level - 1)]
                mod = ".".join(base + ([mod] if mod else []))
            yield node.lineno, mod, [a.name for a in node.names]


def _target_top(mod: str, names: list[str]) -> list[str]:
    parts = mod.split(".")
    if parts[0] != "hea_fast":
        return []
    if len(parts) >= 2:
        return [parts[1]]
    return [n for n in names if n in LAYERS]  # `from hea_fast import features`


def test_every_module_has_a_layer():
    missing = sorted({_top(p) for p in _modules()} - set(LAYERS) - {"__init__"})
    assert not missing, f"add these to LAYERS (and ARCHITECTURE.md): {missing}"


def test_imports_point_down_the_layers():
    bad = []
    for p in _modules():
        src = _top(p)
        if src == "__init__":  # the package's lazy public names
            continue
        for line, mod, names in _imports(p):
            for tgt in _target_top(mod, names):
                if tgt != src and LAYERS.get(tgt, -1) > LAYERS[src]:
                    bad.append(f"{p.relative_to(PKG.parent)}:{line} ({src}, layer {LAYERS[src]}) imports "
                               f"{tgt} (layer {LAYERS[tgt]})")
    assert not bad, "upward imports:\n" + "\n".join(bad)


def test_only_the_cli_imports_commands():
    bad = [f"{p.relative_to(PKG.parent)}:{line}" for p in _modules() if _top(p) not in ("commands", "cli")
           for line, mod, names in _imports(p) if "commands" in _target_top(mod, names)]
    assert not bad, bad


def test_no_private_names_imported_across_modules():
    bad = []
    for p in _modules():
        for line, mod, names in _imports(p):
            if not mod.startswith("hea_fast"):
                continue
            target = PKG.parent / Path(*mod.split("."))
            if target == p.with_suffix("") or target == p.parent and p.name == "__init__.py":
                continue
            for n in names:
                # private modules of the infrastructure (_core, _cuda, _backend, _io) are importable
                if n.startswith("_") and n not in ("_core", "_cuda", "_backend", "_io") and not n.startswith("__"):
                    bad.append(f"{p.relative_to(PKG.parent)}:{line} imports {n} from {mod}")
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_kernels_are_assumed_built():
    bad = []
    for p in _modules():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in ("getattr", "hasattr")
                    and node.args and isinstance(node.args[0], ast.Name) and node.args[0].id in ("core", "_core", "cu")):
                bad.append(f"{p.relative_to(PKG.parent)}:{node.lineno}")
    assert not bad, f"getattr/hasattr fallbacks on the compiled modules: {bad}"


@pytest.mark.parametrize("package", ["screen", "datasets", "mixture", "ssvae", "xyield", "commands"])
def test_big_subjects_are_packages(package):
    assert (PKG / package / "__init__.py").is_file()
    assert not (PKG / f"{package}.py").exists()


def test_no_module_over_600_lines():
    long = {str(p.relative_to(PKG.parent)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600}
    assert not long, long


def _deprecated_shims() -> set[str]:
    """Modules that warn DeprecationWarning when imported (a module-level warnings.warn call)."""
    out = set()
    for path in PKG.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in tree.body:
            call = node.value if isinstance(node, ast.Expr) else None
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "warn" \
                    and any(isinstance(a, ast.Name) and a.id == "DeprecationWarning" for a in [*call.args,
                                                                                          *[k.value for k in call.keywords]]):
                out.add(".".join(["hea_fast", *path.relative_to(PKG).with_suffix("").parts]))
    return out


def test_the_package_never_imports_its_own_deprecated_shims():
    """A deprecated module path kept for users (hea_fast.ssvae.train -> ssvae.training) must not be
    imported by the package itself: importing it warns, and the submodule rebinds the parent's
    attribute of the same name (`hea_fast.ssvae.train`, the function, became the module after the
    validation's SSVAE model ran)."""
    shims = _deprecated_shims()
    assert {"hea_fast.ssvae.train", "hea_fast.xyield.masked", "hea_fast.mixture.screening"} <= shims
    bad = []
    for path in PKG.rglob("*.py"):
        me = ".".join(["hea_fast", *path.relative_to(PKG).with_suffix("").parts])
        for line, mod, names in _imports(path):
            targets = {mod} | {f"{mod}.{n}" for n in names}
            if me not in shims and targets & shims:
                bad.append(f"{path.relative_to(PKG.parent)}:{line} imports {sorted(targets & shims)}")
    assert not bad, bad
