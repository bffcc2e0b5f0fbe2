"""Deprecated alias of `hea_fast.xyield.masked_l0` (the kernel's one name); kept for one release."""
import warnings

from hea_fast.xyield import masked_l0 as _m

globals().update({k: v for k, v in vars(_m).items() if not k.startswith("__")})
__all__ = list(_m.__all__)

warnings.warn("hea_fast.xyield.masked is deprecated; import hea_fast.xyield.masked_l0 instead",
              DeprecationWarning, stacklevel=2)
