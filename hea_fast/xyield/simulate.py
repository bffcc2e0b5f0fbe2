"""Deprecated alias of `hea_fast.xyield.maresca_curtin` (the kernel's one name); kept for one release."""
import warnings

from hea_fast.xyield import maresca_curtin as _mc

globals().update({k: v for k, v in vars(_mc).items() if not k.startswith("__")})
__all__ = list(_mc.__all__)

warnings.warn("hea_fast.xyield.simulate is deprecated; import hea_fast.xyield.maresca_curtin instead",
              DeprecationWarning, stacklevel=2)
