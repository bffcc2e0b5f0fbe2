"""Resumable SSVAE training state: a safetensors file (no pickle) written atomically through
`hea_fast._io.atomic_path`.

The file holds every tensor of the run (flat weights, Adam moments, averaged and selected weights,
schedules, per-model generator states, history) plus metadata: format, version, the model seeds and
a fingerprint (`hea_fast._io.fingerprint`) of the data and the settings that shape the trajectory.
Resuming with other seeds, data or such settings is refused with an error naming the file; the
epoch budget, checkpoint interval, thread count, patience and min_epochs may change between runs.
Version-1 files (no fingerprint) are still read; only their seeds are checked.

`DeferredInterrupt`: a Ctrl-C during a checkpointed run lets the epoch finish, so the checkpoint is
written at an epoch boundary (the only state a resumed run can continue from exactly) before the
KeyboardInterrupt; without it, up to `checkpoint_every` epochs of work were lost.
"""
from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

# isort: off
import hea_fast.ssvae._requires  # noqa: F401  (names the [ssvae] extra when a package is missing)
import torch
# isort: on

from hea_fast._io import CheckpointError, atomic_path

__all__ = ["FORMAT", "VERSION", "DeferredInterrupt", "save_run_state", "load_run_state"]

FORMAT = "hea_fast.ssvae.checkpoint"
VERSION = "2"  # 2: metadata carries the run fingerprint


def save_run_state(path: str | os.PathLike, state: dict[str, torch.Tensor], fingerprint: str) -> Path:
    """Write the run `state` (name -> tensor) to `path` atomically."""
    from safetensors.torch import save_file

    path = Path(path)
    tensors = {k: v.detach().contiguous().clone() for k, v in state.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"format": FORMAT, "version": VERSION, "fingerprint": fingerprint})
    return path


def load_run_state(path: str | os.PathLike, seeds, fingerprint: str) -> dict[str, torch.Tensor]:
    """The run state saved at `path`; raises if it is not an SSVAE checkpoint or belongs to another run
    (seeds first, with a ValueError naming both seed lists; then the fingerprint)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.torch import load_file

    path = Path(path)
    try:
        with safe_open(str(path), "pt") as f:
            meta = f.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"SSVAE training checkpoint {path} cannot be read ({exc}); delete it to start over") \
            from None
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an SSVAE training checkpoint (metadata {meta})")
    if meta.get("version") not in ("1", VERSION):
        raise CheckpointError(f"SSVAE training checkpoint {path} has version {meta.get('version')!r}, expected "
                              f"{VERSION}; delete it to start over")
    if state["seeds"].tolist() != list(seeds):
        raise CheckpointError(f"checkpoint {path} is for seeds {state['seeds'].tolist()}, not {list(seeds)}")
    if meta.get("version") != "1" and meta.get("fingerprint") != fingerprint:
        raise CheckpointError(f"SSVAE training checkpoint {path} belongs to a different run (its data, model or "
                              "optimiser settings differ); delete it or choose another path")
    # safetensors hands out tensors at the file's byte offsets (8-byte, not 64-byte aligned); torch's
    # vectorised kernels round differently on such memory, so a resumed run drifted from an
    # uninterrupted one by float32 ulps (validation scores, hence selection ties). Fresh copies are
    # allocated aligned, as in a run that never stopped.
    return {k: v.clone() for k, v in state.items()}


class DeferredInterrupt:
    """Context manager: while active, the first SIGINT only sets `requested` (the caller saves its state at
    the next safe point and raises KeyboardInterrupt); a second one interrupts at once. Active only
    in the main thread and when SIGINT has Python's default handler (KeyboardInterrupt): a handler
    someone else installed, or an ignored SIGINT, is left alone."""

    def __init__(self, enabled: bool = True):
        self.enabled = enabled
        self.requested = False
        self._prev = None

    def __enter__(self) -> "DeferredInterrupt":
        if (self.enabled and threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
            self._prev = signal.default_int_handler
            signal.signal(signal.SIGINT, self._handler)
        return self

    def _handler(self, signum, frame) -> None:
        self.requested = True
        signal.signal(signal.SIGINT, self._prev)  # a second Ctrl-C stops at once

    def __exit__(self, *exc) -> None:
        if self._prev is not None:
            signal.signal(signal.SIGINT, self._prev)
            self._prev = None
