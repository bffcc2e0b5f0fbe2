"""Access to the compiled modules.

`core` is the CPU extension (always built). The CUDA extension `_cuda` is optional: it is imported
and queried lazily, on first use, never at package import — initialising CUDA in a parent process
breaks fork-based workers (Dask, multiprocessing). A broken or absent CUDA build never stops the CPU
path from importing.
"""
from __future__ import annotations

import functools
import importlib
import os

from hea_fast import _core as core  # noqa: F401  (re-exported)

__all__ = ["core", "cuda_module", "cuda_available", "cuda_status", "cuda_empty", "resolve_device", "cuda_device",
           "to_cuda", "cuda_stream"]


@functools.lru_cache(maxsize=1)
def _load_cuda():
    """Return (module or None, reason string)."""
    if os.environ.get("HEA_FAST_DISABLE_CUDA"):
        return None, "disabled by HEA_FAST_DISABLE_CUDA"
    try:
        mod = importlib.import_module("hea_fast._cuda")
    except ImportError as exc:  # not built, or the CUDA runtime cannot load
        return None, f"hea_fast._cuda is not built or cannot load ({exc})"
    try:
        n = mod.device_count()
    except Exception as exc:  # pragma: no cover - driver trouble
        return None, f"CUDA driver error: {exc}"
    if n <= 0:
        return None, "hea_fast._cuda is built but no CUDA GPU is visible"
    return mod, f"{n} CUDA device(s) visible"


def cuda_available() -> bool:
    """True when the `_cuda` module is built and at least one GPU is visible (checked lazily)."""
    return _load_cuda()[0] is not None


def cuda_status() -> str:
    """Human-readable reason for `cuda_available()` (used by skipped GPU tests)."""
    return _load_cuda()[1]


class CUDAUnavailableError(RuntimeError):
    """The CUDA backend was asked for (device="cuda") and cannot run here; the message says why."""


def cuda_module():
    """The `_cuda` extension module; raises `CUDAUnavailableError` (a RuntimeError) explaining why it is
    unavailable."""
    mod, reason = _load_cuda()
    if mod is None:
        raise CUDAUnavailableError(f"CUDA backend unavailable: {reason}")
    return mod


def cuda_empty(shape, dtype, device="cuda"):
    """Output buffer for a CUDA kernel: `torch.empty`, or filled with NaN (floating dtypes) when
    HEA_FAST_POISON=1, so parity tests catch any element a kernel forgets to write (the test suite
    sets it)."""
    import torch

    if os.environ.get("HEA_FAST_POISON") == "1" and torch.empty((), dtype=dtype).is_floating_point():
        return torch.full(shape, float("nan"), dtype=dtype, device=device)
    return torch.empty(shape, dtype=dtype, device=device)


def resolve_device(device) -> str:
    """Normalise a device argument ('cpu', 'cuda', 'auto', torch.device, None) to 'cpu' or 'cuda'."""
    if device is None:
        return "cpu"
    d = str(device).lower()
    if d == "auto":
        return "cuda" if cuda_available() else "cpu"
    if d.startswith("cuda"):
        cuda_module()  # raises with the reason if unavailable
        return "cuda"
    if d == "cpu":
        return "cpu"
    raise ValueError(f"unknown device {device!r}: use 'cpu', 'cuda' or 'auto'")


# ---- the glue of every CUDA call: arrays to device tensors, pointers, the current stream ----------
# Kernels in `_cuda` take raw device pointers and the stream as an integer (nothing is built against
# libtorch), so each wrapper does the same three things; they live here once.
def cuda_device():
    """The current CUDA torch device (raises with the reason when CUDA is unavailable)."""
    import torch

    cuda_module()
    return torch.device("cuda", torch.cuda.current_device())


def to_cuda(x, dtype=None, device=None):
    """A contiguous CUDA tensor holding `x` (NumPy array, scalar or torch tensor), cast to `dtype`
    (a torch dtype; None keeps it). CUDA tensors already of that dtype and layout are not copied."""
    import numpy as np
    import torch

    dev = device if device is not None else cuda_device()
    if torch.is_tensor(x):
        t = x
    else:
        a = np.ascontiguousarray(x)
        # torch.from_numpy warns on read-only arrays (and would alias them): copy those
        t = torch.from_numpy(a if a.flags.writeable else a.copy())
    return t.to(device=dev, dtype=dtype if dtype is not None else t.dtype).contiguous()


def cuda_stream(device=None) -> int:
    """The handle of torch's current stream on `device` (default: the current device), as an int."""
    import torch

    return torch.cuda.current_stream(device if device is not None else cuda_device()).cuda_stream
