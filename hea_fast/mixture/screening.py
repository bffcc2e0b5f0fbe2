"""Deprecated: the enrichment analysis moved to `hea_fast.mixture.enrichment` (one release of this
alias module)."""
import warnings

from hea_fast.mixture.enrichment import EnrichmentError, EnrichmentResult, ScreeningError, enrichment, enrichment_curve  # noqa: F401

warnings.warn("hea_fast.mixture.screening is deprecated; import from hea_fast.mixture.enrichment instead",
              DeprecationWarning, stacklevel=2)

__all__ = ["EnrichmentResult", "enrichment", "enrichment_curve", "EnrichmentError", "ScreeningError"]
