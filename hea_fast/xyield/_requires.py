"""Importing this module checks the [xyield] extra: when one of torch, safetensors is missing it raises
the ImportError that names the extra to install (`pip install 'hea_fast[xyield]'`), instead of a bare
"No module named ..." from the first module that needed it."""
from hea_fast._extras import extra_error

try:
    import safetensors  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:  # the [xyield] extra
    raise extra_error(exc, "xyield", "hea_fast.xyield's CNN, Bi-RPT and masked-l0 layers") from exc
