"""The `hea-fast` command-line convention, and the pieces every command module shares.

Convention (tests/test_cli_convention.py walks every command's parser and checks it):

* **Help.** Every option says what it does, its default and its unit; the default is appended
  by `HelpFormatter` ("(default: 5)") unless the text already states it. Flags are off by default.
* **Compositions are in at.%.** Bounds, steps, `--min-fraction` / `--max-fraction` and every
  amount a user types are atomic percent (0-100); no option reads atomic fractions. A bound whose
  upper end is at most 1 gets a warning (it is probably a fraction).
* **One bound syntax:** ``--bound El=lo:hi`` (at.%, repeatable, or comma-separated:
  ``--bound W=0:20,Al=5:10``) in every command that takes bounds (`screen`, `ssvae generate`,
  `ssvae nudge`).
* **Formula column:** ``--formula-column`` defaults to auto-detection of the first column named
  formula, alloy, composition (any capitalisation; plural forms too); a table without one is refused
  with its column list.
* **Output columns** are ``<quantity>_<unit>``: ``sigma_y_MPa``, ``temperature_K``, ``tau_y0_MPa``;
  unitless quantities have no suffix (``p_single``). In a screening result ``rank`` is the position
  in the ranking (1 = best) and ``lattice_index`` the composition's index in the enumerated space.
* **Models by name:** ``--model default | mixture | ssvae | released | DIR``. ``mixture`` is the
  bundled sparse-mixture phase model (``default`` where a command takes a mixture model), ``ssvae``
  the project-trained SSVAE bundled in ``hea_fast/data/models/ssvae_default`` (``default`` where a
  command takes an SSVAE), ``released`` the authors' SSVAE weights from the data home; anything else
  is a model directory. Errors name the path.
* **Bad rows in an input table** (unparsable formula, element without data, element outside the
  model) are kept with NaN outputs and the reason in an ``error`` column (``--errors keep``, the
  default), dropped (``--errors skip``) or stop the run (``--errors raise``); ``--errors-out FILE``
  lists them (line, formula, error); a warning gives the count. Messages name the line of the input
  file (CSV: the header is line 1, so the first data row is line 2; Parquet: 1-based row) and hint
  at the usual mistakes (lower-case symbols, decimal commas, empty cells).
* **Impossible requests** (an empty composition space, bounds that exclude every alloy, a
  probability outside [0, 1]) stop with a one-line error and exit status 2; nothing is written.
* **Negative numbers** need no ``=``: ``--grid -2:2:5,-2:2:5`` and ``--z -1,0`` are values.
"""
from __future__ import annotations

import argparse
import math
import re
import sys
import textwrap
from pathlib import Path
from typing import Callable

#: Anything that starts like a number (-2, -.5, -2:2:5, -1,0) is a value, never an option: no
#: option of the CLI starts with a digit, so argparse's own narrower pattern is not needed.
_NEGATIVE = re.compile(r"^-\.?\d")

#: Words `--model` understands besides a directory.
MODEL_NAMES = ("default", "mixture", "ssvae", "released")


def _fmt_default(v) -> str:
    if isinstance(v, (list, tuple)):
        return ",".join(_fmt_default(x) for x in v) if v else "none"
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


class HelpFormatter(argparse.HelpFormatter):
    """Appends "(default: X)" to an option's help unless the text already mentions its default.

    Nothing is appended for flags (off by default), for required arguments and for a default of
    None, whose meaning the help text itself must state ("default: all cores"). Descriptions are
    wrapped paragraph by paragraph (line breaks kept)."""

    def _fill_text(self, text, width, indent):
        return "\n".join(textwrap.fill(p, width, initial_indent=indent, subsequent_indent=indent) if p.strip() else ""
                         for p in text.splitlines())

    def _get_help_string(self, action):
        text = action.help or ""
        if (action.default in (None, argparse.SUPPRESS) or action.required or action.nargs == 0
                or "default" in text.lower()
                or (not action.option_strings and action.nargs not in (argparse.OPTIONAL, argparse.ZERO_OR_MORE))):
            return text
        d = action.default
        if isinstance(d, (list, tuple)) and action.nargs not in (None, argparse.OPTIONAL):
            shown = " ".join(_fmt_default(x) for x in d)  # nargs lists are typed space-separated
        else:
            shown = _fmt_default(d)
        return f"{text} (default: {shown.replace('%', '%%')})"


class ArgumentParser(argparse.ArgumentParser):
    """The parser of every `hea-fast` command: the help formatter above, negative numbers read as
    values, and one-line usage errors (exit status 2). Sub-parsers inherit the class."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


def add_command(subparsers, name: str, func: Callable[[argparse.Namespace], int], help: str,
                description: str | None = None, **kwargs) -> argparse.ArgumentParser:
    """Add the command `name` (handler `func`, run by hea_fast.cli.main) and return its parser."""
    p = subparsers.add_parser(name, help=help, description=description or help, **kwargs)
    p.set_defaults(func=func)
    return p


def csv_list(s) -> list[str]:
    """'Al, Co,Cr' -> ['Al', 'Co', 'Cr'] (empty items dropped): an argparse type."""
    return [t.strip() for t in str(s).split(",") if t.strip()]


def one_line(exc: BaseException | str) -> str:
    """An exception's message on one line."""
    text = str(exc).strip() or type(exc).__name__
    return "; ".join(t.strip() for t in text.splitlines() if t.strip())


def say(cmd: str, msg: str) -> None:
    """A warning or note on stderr, prefixed by the command."""
    print(f"hea-fast {cmd}: {msg}", file=sys.stderr)


# ---- argparse types ------------------------------------------------------------------------------------
def _number(s: str, lo: float, hi: float, what: str, unit: str = "") -> float:
    try:
        v = float(str(s).strip().removesuffix("%") if unit == "at.%" else s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not a number{' of ' + unit if unit else ''}") from None
    if not lo <= v <= hi:
        raise argparse.ArgumentTypeError(f"{s} is outside {what}")
    return v


def probability(s: str) -> float:
    """A number in [0, 1] (probabilities, thresholds on them): an argparse type."""
    return _number(s, 0.0, 1.0, "[0, 1] (a probability)")


def atpct(s: str) -> float:
    """An amount in at.% (0-100; a trailing '%' is allowed): an argparse type."""
    return _number(s, 0.0, 100.0, "0-100 at.%", unit="at.%")


def positive_int(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{s!r} is not an integer") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"{s} must be >= 1")
    return v


def parse_bounds(items, option: str = "--bound", cmd: str = "") -> dict[str, tuple[float, float]]:
    """``["W=0:20", "Al=5:10,Ti=0:30"]`` -> {element: (lo, hi)} in at.%.

    The one bound syntax of the CLI: ``El=lo:hi`` in at.% (0 <= lo <= hi <= 100). The old ssvae
    spelling ``El:lo:hi`` is still read, with a deprecation note."""
    out: dict[str, tuple[float, float]] = {}
    for item in items or []:
        for it in csv_list(item):
            if "=" not in it and it.count(":") == 2:  # El:lo:hi (ssvae, before the one syntax)
                el, lo, hi = it.split(":")
                say(cmd or "bound", f"{option} {it!r}: write {el}={lo}:{hi} (the El:lo:hi spelling is deprecated)")
                it = f"{el}={lo}:{hi}"
            try:
                el, rng = it.split("=", 1)
                lo, hi = (float(v.strip().removesuffix("%")) for v in rng.split(":", 1))
            except ValueError:
                raise ValueError(f"{option} {it!r}: expected El=LO:HI in at.%, e.g. W=0:20") from None
            el = el.strip()
            if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo <= hi <= 100):
                raise ValueError(f"{option} {it!r}: need 0 <= LO <= HI <= 100 (at.%)")
            if el in out:
                raise ValueError(f"{option} gives {el} twice")
            if 0 < hi <= 1:
                say(cmd or "bound", f"{option} {it!r} is read in at.% ({lo:g}-{hi:g} at.%); for "
                    f"{100 * lo:g}-{100 * hi:g} at.% write {el}={100 * lo:g}:{100 * hi:g}")
            out[el] = (lo, hi)
    return out


# ---- models by name ------------------------------------------------------------------------------------
def bundled_ssvae_dir() -> Path | None:
    """The project-trained SSVAE shipped in hea_fast/data/models (ssvae_default), or None."""
    # the package directory itself: hea_fast.data has no __init__.py, and importlib.resources gives a
    # MultiplexedPath for such a namespace package, whose str() is no path
    root = Path(__file__).resolve().parents[1] / "data" / "models"
    for d in [root / "ssvae_default", *sorted(root.glob("ssvae*"))]:
        if (d / "config.json").is_file():
            return d
    return None


def _model_dir(spec: str, how: str) -> Path:
    path = Path(spec)
    if not path.exists():
        raise FileNotFoundError(f"--model {spec}: no such directory; use {how}")
    if not path.is_dir():
        raise ValueError(f"--model {spec}: not a directory; use {how}")
    return path


def load_mixture_model(spec: str | None):
    """`--model` of a command that takes the sparse-mixture phase model."""
    from hea_fast.mixture.model import SparseMixtureClassifier, default_model_dir

    how = "default (= mixture, the bundled model) or a directory written by `hea-fast mixture fit`"
    name = "default" if spec is None else str(spec)
    if name in ("ssvae", "released"):
        raise ValueError(f"--model {name} is an SSVAE; this command takes a mixture model: {how}")
    path = default_model_dir() if name in ("default", "mixture", "bundled") else _model_dir(name, how)
    try:
        return SparseMixtureClassifier.load(path)
    except (ValueError, OSError, KeyError) as exc:
        raise ValueError(f"--model {path}: not a loadable mixture model ({one_line(exc)})") from None


def load_ssvae_model(spec: str | None):
    """`--model` of a command that takes an SSVAE."""
    from hea_fast.ssvae.model import SSVAE, load_released

    how = ("ssvae (= default, the bundled project-trained model), released (the authors' weights from the "
           "data home) or a directory written by `hea-fast ssvae train`")
    name = "default" if spec is None else str(spec)
    if name == "mixture":
        raise ValueError(f"--model mixture is the sparse-mixture model; this command takes an SSVAE: {how}")
    if name == "released":
        try:
            return load_released()
        except (OSError, ValueError) as exc:
            raise FileNotFoundError(f"--model released: the authors' weights are not available ({one_line(exc)}); "
                                    "use --model ssvae or a directory written by `hea-fast ssvae train`") from None
    if name in ("default", "ssvae", "bundled"):
        path = bundled_ssvae_dir()
        if path is None:
            raise FileNotFoundError(
                "--model default: no project-trained SSVAE is bundled with this install (looked for "
                "hea_fast/data/models/ssvae_default/config.json); pass --model released (the authors' weights "
                "from the data home) or a directory written by `hea-fast ssvae train`")
    else:
        path = _model_dir(name, how)
    try:
        return SSVAE.load(path)
    except Exception as exc:  # torch, safetensors and JSON raise their own types for a broken file
        raise ValueError(f"--model {path}: not a loadable SSVAE ({type(exc).__name__}: {one_line(exc)})") from None


def load_xyield_model(spec: str):
    """`--model` of the X-Yield CNN commands (no CNN is bundled: a directory)."""
    from hea_fast.xyield.protocol import load_model

    how = "a directory written by `hea-fast xyield pretrain` or `hea-fast xyield transfer`"
    if spec in MODEL_NAMES:
        raise ValueError(f"--model {spec}: no X-Yield CNN is bundled with hea_fast ({spec!r} names a phase model); "
                         f"use {how}")
    path = _model_dir(spec, how)
    try:
        return load_model(path)
    except Exception as exc:  # torch / safetensors / JSON errors for a broken file
        raise ValueError(f"--model {path}: not a loadable X-Yield model ({type(exc).__name__}: "
                         f"{one_line(exc)})") from None


def model_kind(path: Path) -> str | None:
    """What a model directory holds: "phase" (model.json of `hea_fast.phase`), "mixture" or
    "ssvae" (their config.json formats), else None."""
    import json

    if (path / "model.json").is_file():
        return "phase"
    cfg = path / "config.json"
    if cfg.is_file():
        try:
            fmt = str(json.loads(cfg.read_text()).get("format", ""))
        except (OSError, ValueError, AttributeError):
            return None
        if fmt.startswith("hea_fast.mixture"):
            return "mixture"
        if fmt.startswith("hea_fast.ssvae"):
            return "ssvae"
    return None


#: --model names of the bundled default phase model ("best": its name while the default was the faster
#: distilled model, now "fast")
DEFAULT_PHASE_NAMES = ("default", "phase", "bundled", "best")


def phase_model_dir(name: str):
    """The bundled phase model directory a --model name means ("default" and its aliases, "fast"), or None."""
    from hea_fast.phase.model import bundled_model_dir

    return bundled_model_dir("default" if name in DEFAULT_PHASE_NAMES else name)


def load_phase_model(spec: str | None):
    """`--model` of a command that takes the default phase model (`hea_fast.phase.PhaseModel`):
    default (= phase, the bundled model) or a directory written by `PhaseModel.save`."""
    from hea_fast.phase.model import PhaseModel

    how = ("default (the bundled phase model), fast (the bundled distilled model: faster screens, slightly less "
           "accurate) or a directory written by hea_fast.phase.PhaseModel.save")
    name = "default" if spec is None else str(spec)
    if name in ("mixture", "ssvae", "released"):
        raise ValueError(f"--model {name} is not a phase model ({how}); --scorer {'mixture' if name == 'mixture' else 'ssvae'} "
                         f"screens with it")
    path = phase_model_dir(name) or _model_dir(name, how)
    try:
        return PhaseModel.load(path)
    except FileNotFoundError as exc:
        raise FileNotFoundError(f"--model {path}: not a phase model ({one_line(exc)}); use {how}") from None
    except (ValueError, OSError, KeyError) as exc:
        msg = one_line(exc)
        raise ValueError(msg if str(path) in msg else f"--model {path}: not a loadable phase model ({msg})") from None


def model_dir(spec: str, how: str) -> Path:
    """`--model DIR` checked: an existing directory, else an error naming it and saying `how` to
    name a model."""
    return _model_dir(spec, how)
