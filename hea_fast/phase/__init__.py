"""The default phase model: P(single-phase solid solution) with an applicability domain.

Modules:

* `model` — `PhaseModel` (inference: NumPy + the compiled core), `load_model`, `feature_matrix`;
* `ensemble` — `EnsembleParams`, the kernel `phase_ensemble` (+ lattice / top-k screening paths)
  and its NumPy reference;
* `domain` — `ApplicabilityDomain` (elements, fraction ranges, k-NN distance to the training alloys);
* `neighbors` — `nearest` (the k nearest training points of feature rows, exact) and `point_rows`;
  `PhaseModel.neighbors` names the nearest training alloys with their source votes;
* `records` — `RecordTable` (every recorded composition of the training data and its records) and
  `blend`, what `PhaseModel.predict_frame(memory=True)` does for a known alloy;
* `estimator` — `PhaseEnsembleClassifier`, the scikit-learn estimator that trains the model
  (imports scikit-learn; only needed to train).

Names resolve lazily (`hea_fast._lazy`): ``import hea_fast.phase`` imports neither scikit-learn
nor the compiled core. ``hea_fast.phase.load_model("default")`` is the bundled model
(`hea_fast/data/models/phase_default`, trained by scripts/train_default_phase.py: the mean of a
logistic regression and a random forest, the most accurate model of the cross-source protocol, which
the fused screening kernel runs); ``load_model("fast")`` is that forest distilled into 600 depth-4
boosted trees (1.0-1.2x faster end to end on the screens measured without a threshold, up to 2.3x with one, slightly less accurate).
"""
from hea_fast._lazy import lazy_attributes

_LAZY = {
    "PhaseModel": "hea_fast.phase.model",
    "PhaseModelError": "hea_fast.phase.model",
    "load_model": "hea_fast.phase.model",
    "feature_matrix": "hea_fast.phase.model",
    "default_descriptors": "hea_fast.phase.model",
    "default_model_dir": "hea_fast.phase.model",
    "EnsembleParams": "hea_fast.phase.ensemble",
    "phase_ensemble": "hea_fast.phase.ensemble",
    "phase_ensemble_reference": "hea_fast.phase.ensemble",
    "ApplicabilityDomain": "hea_fast.phase.domain",
    "nearest": "hea_fast.phase.neighbors",
    "RecordTable": "hea_fast.phase.records",
    "PhaseEnsembleClassifier": "hea_fast.phase.estimator",
    "fit_platt": "hea_fast.phase.estimator",
}

__all__ = sorted(_LAZY)
__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)
