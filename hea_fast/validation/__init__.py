"""Cross-source validation of phase classifiers (single-phase solid solution vs not).

data       `harmonised_phase_data` (the shared phase-labelled datasets mapped to one binary label,
           one row per source × composition, fractions to 1e-3), `pool` (one row per composition
           across sources), `composition_keys`, the per-source rules in `SOURCES`
protocols  `leave_one_source_out`, `grouped_kfold` (by alloy system), `random_kfold` (reference),
           the fold generators, the resumable `run` and its `ResultsLog`, `evaluate`, `compare_to_best`
scores     `metrics` (accuracy, balanced accuracy, AUC, Brier, log-loss, ECE with seeded cluster
           bootstrap CIs), `paired_difference`, `expected_calibration_error`
models     the compared estimators (`MODELS`, `make_model`), `CompositionFeatures`,
           `SSVAEHeadClassifier`
plots      `reliability_diagram`, `reliability_figure` (matplotlib imported lazily)
report     `validate_phase`: everything, written to a folder (CLI `hea-fast validate phase`)
"""
from hea_fast.validation.data import (
                                      DEFAULT_SOURCES,
                                      SOURCES,
                                      SourceSpec,
                                      all_descriptors,
                                      composition_batch,
                                      composition_keys,
                                      element_columns,
                                      harmonise_frame,
                                      harmonised_phase_data,
                                      label_from_phase,
                                      pool,
                                      systems_of,
)
from hea_fast.validation.models import (
                                      DEFAULT_MODELS,
                                      MODELS,
                                      CompositionFeatures,
                                      ModelSpec,
                                      SSVAEHeadClassifier,
                                      fit_model,
                                      make_model,
)
from hea_fast.validation.plots import reliability_diagram, reliability_figure
from hea_fast.validation.protocols import (
                                      PROTOCOLS,
                                      Fold,
                                      ResultsLog,
                                      compare_to_best,
                                      evaluate,
                                      folds,
                                      grouped_folds,
                                      grouped_kfold,
                                      leave_one_source_out,
                                      loso_folds,
                                      random_folds,
                                      random_kfold,
                                      run,
)
from hea_fast.validation.report import validate_phase
from hea_fast.validation.scores import METRICS, expected_calibration_error, metrics, paired_difference, point_metrics

__all__ = [
    "DEFAULT_MODELS", "DEFAULT_SOURCES", "METRICS", "MODELS", "PROTOCOLS", "SOURCES", "CompositionFeatures",
    "Fold", "ModelSpec", "ResultsLog", "SSVAEHeadClassifier", "SourceSpec", "all_descriptors", "compare_to_best",
    "composition_batch", "composition_keys", "element_columns", "evaluate", "expected_calibration_error",
    "fit_model", "folds", "grouped_folds", "grouped_kfold", "harmonise_frame", "harmonised_phase_data",
    "label_from_phase", "leave_one_source_out", "loso_folds", "make_model", "metrics", "paired_difference",
    "point_metrics", "pool", "random_folds", "random_kfold", "reliability_diagram", "reliability_figure", "run",
    "systems_of", "validate_phase",
]
