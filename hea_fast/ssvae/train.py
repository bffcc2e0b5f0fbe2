"""Deprecated alias of `hea_fast.ssvae.training`, kept for one release.

The module was renamed so that `hea_fast.ssvae.train` is always the function `train(seed=...)`;
importing this module rebinds that package attribute to the module, as any submodule import does.
"""
import warnings

from hea_fast.ssvae import training as _training

globals().update({k: v for k, v in vars(_training).items() if not k.startswith("__")})
__all__ = [k for k in vars(_training) if not k.startswith("_")]

warnings.warn("hea_fast.ssvae.train is deprecated; import hea_fast.ssvae.training instead",
              DeprecationWarning, stacklevel=2)
