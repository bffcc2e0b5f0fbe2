"""The README's Python examples: the self-contained ones run as written and print what their comments
say; in the others (which need the user's data or a long training run) every imported name exists and
every call binds to the signature it names (argument count and keywords)."""
from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def _block(needle: str) -> str:
    found = [b for b in _blocks() if needle in b]
    assert len(found) == 1, f"one README python block holds {needle!r}, found {len(found)}"
    return found[0]


def test_readme_has_the_examples_this_file_checks():
    assert len(_blocks()) == 4


def test_parse_and_featurize_example_prints_its_comments():
    block = _block("hf.parse_formula")
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)
    hf = ns["hf"]
    n_checked = 0
    for line in block.splitlines():
        m = re.match(r'hf\.parse_formula\(("[^"]*")\)\s+#\s*(\{.*\})\s*$', line)
        if m:
            got, want = hf.parse_formula(ast.literal_eval(m[1])), ast.literal_eval(m[2])
            assert list(got) == list(want), line
            for el, v in want.items():
                assert got[el] == pytest.approx(v, abs=5e-4), line
            n_checked += 1
    assert n_checked == 2
    # the featurize table written under the call, to the 3 decimals shown
    lines = block.splitlines()
    i = next(k for k, s in enumerate(lines) if s.startswith("hf.featurize("))
    table = []
    for s in lines[i + 1:]:
        if not s.startswith("#"):
            break
        table.append(s[1:].split())
    cols, rows = table[0], table[1:]
    df = hf.featurize(ns["batch"], descriptors=cols)
    assert list(df.columns) == cols and len(df) == len(rows) == 3
    want = np.array([[float(v) for v in r[1:]] for r in rows])
    np.testing.assert_allclose(df.to_numpy(), want, atol=5e-4 + 1e-12)
    assert isinstance(hf.list_descriptors(), pd.DataFrame)


def test_screening_example_runs(tmp_path, monkeypatch):
    block = _block("hea_space(")
    monkeypatch.chdir(tmp_path)  # the example writes top.parquet to the working directory
    ns: dict = {}
    exec(compile(block, "README.md", "exec"), ns)
    m = re.search(r"every element 5–35 at\.%: ([\d,]+) alloys", block)
    assert m and len(ns["space"]) == int(m[1].replace(",", ""))
    top = pd.read_parquet(tmp_path / "top.parquet")
    assert len(top) == 100 and (top["p_single"] >= 0.75).all() and top["in_domain"].all()
    assert np.all(np.diff(top["sigma_y_1300K_MPa"].to_numpy()) <= 0)


class _Instance:
    """An instance of `cls` in a README example (its methods are checked on the class)."""

    def __init__(self, cls):
        self.cls = cls


def _placeholder_calls(block: str):
    """(callee text, callable, n positional args, keyword names) of each call in `block` whose callee
    resolves from the block's imports (after running them) or from a name the block assigned an
    instance of an imported class to; a callee that names a missing attribute fails."""
    tree = ast.parse(block)
    ns: dict = {}
    for node in tree.body:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            exec(compile(ast.Module([node], []), "README.md", "exec"), ns)

    def resolve(expr):
        if isinstance(expr, ast.Name):
            return ns.get(expr.id)
        if isinstance(expr, ast.Attribute):
            base = resolve(expr.value)
            if base is None:
                return None
            owner = base.cls if isinstance(base, _Instance) else base
            if isinstance(base, _Instance) and expr.attr.endswith("_") and not hasattr(owner, expr.attr):
                # a fitted attribute (scikit-learn convention): set by fit, so documented in the class
                assert f"{expr.attr} " in (owner.__doc__ or ""), f"README: {ast.unparse(expr)} is not documented"
                return None
            assert hasattr(owner, expr.attr), f"README: {ast.unparse(expr)} does not exist"
            attr = getattr(owner, expr.attr)
            return (attr, base) if isinstance(base, _Instance) else attr
        if isinstance(expr, ast.Call):
            f = resolve(expr.func)
            if inspect.isclass(f):
                return _Instance(f)
            if isinstance(f, tuple) and isinstance(f[1], _Instance) and expr.func.attr == "fit":
                return f[1]  # scikit-learn: fit returns the estimator
        return None

    for node in tree.body:  # names bound to instances: clf = Estimator(...).fit(...)
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            value = resolve(node.value)
            if isinstance(value, _Instance):
                ns[node.targets[0].id] = value
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = resolve(node.func)
            bound = isinstance(f, tuple)
            fn = f[0] if bound else f
            if callable(fn):
                yield ast.unparse(node.func), fn, len(node.args) + bound, [k.arg for k in node.keywords]


@pytest.mark.parametrize("needle", ["SparseMixtureClassifier(", "ssvae.load_model("])
def test_method_examples_name_the_api_as_it_is(needle):
    pytest.importorskip("torch")  # hea_fast.ssvae needs the [ssvae] extra
    block = _block(needle)
    seen = []
    for text, fn, n_args, keywords in _placeholder_calls(block):
        sig = inspect.signature(fn)
        sig.bind(*([None] * n_args), **{k: None for k in keywords})  # TypeError if the README's call no longer fits
        seen.append(text)
    assert len(seen) >= 4, seen
    # the imported modules' names the comments point to
    if "protocol" in block:
        from hea_fast.xyield import protocol

        for name in ("pretrain", "transfer", "predict"):
            assert callable(getattr(protocol, name)), name


def _subparsers(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return action.choices
    return {}


def test_every_command_the_readme_shows_parses():
    """Each `hea-fast ...` span of the README: a full command line parses as written (optional parts in
    [brackets] included); a span listing alternatives ("list / show NAME / verify") names subcommands
    that exist."""
    import shlex

    from hea_fast.cli import build_parser

    spans = sorted(set(re.findall(r"`hea-fast ([^`]*)`", README.read_text())))
    assert len(spans) >= 15
    for span in spans:
        tokens = shlex.split(span)
        if "/" in tokens:  # GROUP a [ARGS] / b [ARGS] / c: each of a, b, c is a subcommand of GROUP
            group = _subparsers(build_parser()).get(tokens[0])
            assert group is not None, f"README: `hea-fast {span}`: no command {tokens[0]!r}"
            names = [tokens[1]] + [tokens[k + 1] for k, t in enumerate(tokens[:-1]) if t == "/"]
            for name in names:
                assert name in _subparsers(group), f"README: `hea-fast {span}`: no subcommand {name!r}"
            continue
        argv = [t.strip("[]") for t in tokens if t.strip("[]")]
        parser = build_parser()
        for tok in argv:  # a bare command name ("`hea-fast mixture predict` reads ...")
            parser = _subparsers(parser).get(tok) if parser is not None else None
        if parser is not None and not _subparsers(parser):
            continue
        try:
            build_parser().parse_args(argv)
        except SystemExit as exc:
            assert argv == ["--help"] and exc.code == 0, f"README: `hea-fast {span}` does not parse"
