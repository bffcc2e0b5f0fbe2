"""Progress bars without a hard dependency: tqdm when it is installed, else a plain-text fallback.

The core install needs only numpy, scipy, pandas, pyarrow and scikit-learn; tqdm comes with the
extras (and with `make`). `progress_bar(...)` takes the tqdm arguments the package uses (total,
initial, desc, unit, unit_scale, disable, file, smoothing, leave) and returns an object with
`update(n)`, `set_postfix(**kw)`, `close()` and context-manager and iterator support either way.
"""
from __future__ import annotations

import sys
import time

__all__ = ["progress_bar"]


class _PlainBar:
    """Prints `desc: done/total (rate unit/s)` to stderr at most every few seconds."""

    def __init__(self, iterable=None, total=None, initial=0, desc="", unit="it", disable=False, file=None,
                 interval_s: float = 5.0, **_ignored):
        self.iterable = iterable
        self.total = total if total is not None else (len(iterable) if hasattr(iterable, "__len__") else None)
        self.n = int(initial)
        self.desc, self.unit, self.disable = desc, unit, disable
        self.file = file if file is not None else sys.stderr
        self.interval_s = interval_s
        self._t0 = self._last = time.monotonic()
        self._start = self.n
        self._postfix = ""

    def _print(self, force=False):
        now = time.monotonic()
        if self.disable or (not force and now - self._last < self.interval_s):
            return
        self._last = now
        rate = (self.n - self._start) / max(now - self._t0, 1e-9)
        of = f"/{self.total:,}" if self.total is not None else ""
        print(f"{self.desc}: {self.n:,}{of} {self.unit} ({rate:,.0f} {self.unit}/s){self._postfix}",
              file=self.file, flush=True)

    def update(self, n=1):
        self.n += n
        self._print()

    def set_postfix(self, ordered_dict=None, refresh=True, **kw):
        items = dict(ordered_dict or {}, **kw)
        self._postfix = " " + ", ".join(f"{k}={v}" for k, v in items.items()) if items else ""

    def close(self):
        self._print(force=True)

    def __iter__(self):
        for x in self.iterable:
            yield x
            self.update(1)
        self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _live(file) -> bool:
    """Whether `file` shows a redrawn bar: a terminal, or a notebook (ipykernel: tqdm.auto draws a
    widget there)."""
    if "ipykernel" in sys.modules:
        return True
    try:
        return bool(file.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def progress_bar(iterable=None, **kw):
    """A tqdm bar (``tqdm.auto``) on a terminal or in a notebook when tqdm is installed; else, and
    whenever the output is a file, pipe or batch log (stderr not a terminal), the plain one with the
    same API: one line every few seconds instead of a redraw per update, which would fill the log."""
    if not _live(kw.get("file") or sys.stderr):
        return _PlainBar(iterable, **kw)
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _PlainBar(iterable, **kw)
    return tqdm(iterable, **kw)
