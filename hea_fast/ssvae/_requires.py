"""Importing this module checks the [ssvae] extra: when one of torch, pyro, safetensors is missing it raises
the ImportError that names the extra to install (`pip install 'hea_fast[ssvae]'`), instead of a bare
"No module named ..." from the first module that needed it."""
from hea_fast._extras import extra_error

try:
    import pyro  # noqa: F401
    import safetensors  # noqa: F401
    import torch  # noqa: F401
except ImportError as exc:  # the [ssvae] extra
    raise extra_error(exc, "ssvae", "hea_fast.ssvae") from exc
