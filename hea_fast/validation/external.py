"""Scoring a phase model on a labelled table the user brings (`hea-fast phase evaluate`, issue #15).

The cross-source protocol (`hea_fast.validation.protocols`) measures transfer between the shared
datasets; a user's own alloys (a lab's results, a new compilation) are the test that matters to them.
`evaluate_predictions` scores one model's probabilities against 0/1 labels on the slices that tell how
far to trust it: all scored alloys, inside / outside the applicability domain, and the alloys that are
(or are not) compositions the model was trained on — published compilations share many alloys with the
training sources, and a score on known alloys measures memory, not prediction. Metrics and cluster-
bootstrap intervals (resampling alloy systems) are those of `hea_fast.validation.scores.metrics`.

`parse_labels` reads a label column: 0/1, booleans and yes/no words, or phase names. Phase names follow
the protocol's mapping (`label_from_phase`): exactly one of FCC, BCC, HCP is single phase, also written
with a solid-solution or disordered qualifier (``FCC_SS``, ``SS-BCC``, ``single-phase FCC``, ``BCC
(disordered)``, ``disordered BCC``, the Strukturbericht ``A1`` / ``A2`` / ``A3``) or as ``single`` /
``single phase``; a value naming several phases (``FCC+BCC``, ``BCC + Laves``), an intermetallic or
amorphous phase (IM, AM, Laves, sigma, mu) or multi-phase words (``multiple phases``, ``dual-phase``)
is not. Anything else (``SS``, ``B2``, ``L12``, ``SP``, ``ordered BCC``, a separator with fewer than two
phases around it such as ``FCC,`` or ``BCC+``: conventions differ between compilations) is an error
(`LabelError`) naming the value and its row, unless `single` lists the values that mean one
solid-solution phase (then every other non-empty value is 0).
"""
from __future__ import annotations

import re
from typing import Iterable, Sequence

import numpy as np

__all__ = ["LabelError", "parse_labels", "evaluate_predictions", "SLICES", "report_markdown"]

_TRUE = frozenset({"1", "1.0", "true", "yes", "y", "t"})
_FALSE = frozenset({"0", "0.0", "false", "no", "n", "f"})
_ONE_PHASE = frozenset({"FCC", "BCC", "HCP"})
# one solid-solution lattice with a qualifier (upper case, runs of space, "_" and "-" made one space)
_ONE_PHASE_WORDS = re.compile(r"(?:SINGLE(?: PHASE)? )?(?:DISORDERED )?(?:FCC|BCC|HCP|A1|A2|A3)"
                              r"(?: SS| SOLID SOLUTION| \(DISORDERED\))?|(?:SS|SOLID SOLUTION) (?:FCC|BCC|HCP)"
                              r"|SINGLE(?: PHASE)?(?: SS| SOLID SOLUTION)?")
_NOT_SINGLE = frozenset({"IM", "AM", "MULTI", "MULTIPHASE", "MULTI-PHASE", "MP", "AMORPHOUS", "INTERMETALLIC",
                         "DUAL", "DUAL-PHASE", "LAVES", "SIGMA", "MU", "MULTIPLE", "MULTIPLE PHASES", "MULTI PHASE",
                         "MULTI PHASES", "DUAL PHASE", "TWO PHASE", "TWO PHASES"})
_SEVERAL = re.compile(r"\+|,|/|&|\band\b", re.IGNORECASE)
#: slice name -> which rows (keys of the masks `evaluate_predictions` builds)
SLICES = ("all", "in domain", "out of domain", "training compositions", "new compositions",
          "new compositions in domain")


class LabelError(ValueError):
    """A label `parse_labels` cannot read: `row` (0-based position among the values), `value` (as written)
    and `detail` (why, and the way out); the message names all three."""

    def __init__(self, row: int, value, detail: str):
        self.row, self.value, self.detail = int(row), value, detail
        super().__init__(f"label {value!r} (row {self.row}) {detail}")


def _several(text: str) -> bool:
    """The value names two or more phases: a separator with a phase name on either side (``FCC+BCC``,
    ``FCC (major) + BCC (minor)``); a dangling separator (``FCC,``, ``BCC+``) is not read as one."""
    return sum(1 for part in _SEVERAL.split(text) if part.strip()) >= 2


def _empty(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v)) or (isinstance(v, str) and not v.strip()) \
        or str(v) in ("<NA>", "nan", "NaN")


def parse_labels(values: Iterable, single: Sequence[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """(y, reasons): y[i] = 1.0 (one solid-solution phase), 0.0 (not) or NaN (empty cell, with a reason).
    single: the values (case-insensitive) that mean single phase; without it, the rules of the module
    docstring. Raises `LabelError` (a ValueError) naming the first value it cannot read and its row."""
    vals = list(values)
    y = np.full(len(vals), np.nan)
    reasons = [""] * len(vals)
    singles = None if single is None else {str(s).strip().lower() for s in single}
    for i, v in enumerate(vals):
        if _empty(v):
            reasons[i] = "no label"
            continue
        if isinstance(v, (bool, np.bool_)):
            y[i] = float(bool(v))
            continue
        text = str(v).strip()
        low = text.lower()
        if singles is not None:
            y[i] = 1.0 if low in singles else 0.0
            continue
        if isinstance(v, (int, float, np.integer, np.floating)) and float(v) not in (0.0, 1.0):
            raise LabelError(i, v, "is neither 0 nor 1")
        if low in _TRUE or low in _FALSE:
            y[i] = 1.0 if low in _TRUE else 0.0
            continue
        up = re.sub(r"\s+", "", text.upper())
        words = re.sub(r"[\s_\-]+", " ", text.upper()).strip()
        if up in _ONE_PHASE or _ONE_PHASE_WORDS.fullmatch(words):
            y[i] = 1.0
        elif up in _NOT_SINGLE or words in _NOT_SINGLE or _several(text):
            y[i] = 0.0
        else:
            raise LabelError(i, text, "is not one the phase mapping reads (0/1, yes/no, FCC, BCC, HCP, several phases "
                             f"such as FCC+BCC, IM, AM); name the single-phase values with --single / single=[...] "
                             f"(e.g. --single {text})")
    return y, reasons


def evaluate_predictions(y, p, systems, in_domain=None, in_training=None, n_boot: int = 1000, seed: int = 0
                         ) -> dict:
    """{slice: metrics dict (`hea_fast.validation.scores.metrics`, cluster bootstrap over `systems`) or None
    when the slice is empty} for the rows with a label and a probability. in_domain / in_training: boolean
    per row or None (their slices are then left out)."""
    from hea_fast.validation.scores import metrics

    y = np.asarray(y, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    systems = np.asarray(systems, dtype=object)
    if not (y.shape == p.shape == systems.shape) or y.ndim != 1:
        raise ValueError(f"y, p and systems must be equal-length vectors, got {y.shape}, {p.shape}, {systems.shape}")
    ok = np.isfinite(y) & np.isfinite(p)
    masks = {"all": ok}
    if in_domain is not None:
        d = np.asarray(in_domain, dtype=bool)
        masks["in domain"], masks["out of domain"] = ok & d, ok & ~d
    if in_training is not None:
        t = np.asarray(in_training, dtype=bool)
        masks["training compositions"], masks["new compositions"] = ok & t, ok & ~t
        if in_domain is not None:
            masks["new compositions in domain"] = ok & ~t & np.asarray(in_domain, dtype=bool)
    out = {}
    for name in SLICES:
        if name not in masks:
            continue
        m = masks[name]
        out[name] = (metrics(y[m].astype(np.int64), p[m], n_boot=n_boot, seed=seed, groups=systems[m])
                     if m.any() else None)
    return out


def report_markdown(report: dict, title: str) -> str:
    """The slices of `evaluate_predictions` as a markdown table (value [95 % interval])."""
    from hea_fast.validation.report import ci_cell
    from hea_fast.validation.scores import METRICS

    lines = [f"# {title}", "", "| rows | n | single-phase | " + " | ".join(METRICS) + " |",
             "|---" * (3 + len(METRICS)) + "|"]
    for name, r in report.items():
        if r is None:
            lines.append(f"| {name} | 0 | – | " + " | ".join("–" for _ in METRICS) + " |")
            continue
        cells = [ci_cell(r[k]["value"], r[k]["lo"], r[k]["hi"]) for k in METRICS]
        lines.append(f"| {name} | {r['n']} | {r['n_pos'] / r['n']:.2f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
