"""`DescriptorTransformer`: the descriptors of `hea_fast.features` as a scikit-learn transformer, for
pipelines (`make_pipeline(DescriptorTransformer(), LogisticRegression())`). In its own module so that
`hea_fast.features` does not import scikit-learn; `hea_fast.features.DescriptorTransformer` and
`hea_fast.DescriptorTransformer` resolve here lazily."""
from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

from hea_fast.features import featurize_array, resolve

__all__ = ["DescriptorTransformer"]


class DescriptorTransformer(TransformerMixin, BaseEstimator):
    """scikit-learn transformer: compositions -> descriptor matrix.

    X may be a sequence/Series of formulas, a DataFrame of element columns, a CompositionBatch, or
    a DataFrame with a formula column (``formula_column``). Stateless: `fit` only records the
    output names.
    """

    def __init__(self, descriptors=None, table=None, formula_column=None, threads=None, errors="nan"):
        self.descriptors = descriptors
        self.table = table
        self.formula_column = formula_column
        self.threads = threads
        self.errors = errors

    def _input(self, X):
        if self.formula_column is not None:
            return X[self.formula_column]
        return X

    def fit(self, X=None, y=None):
        labels, _, _ = resolve(self.descriptors, self.table)
        self.feature_names_out_ = np.asarray(labels, dtype=object)
        self.n_features_out_ = len(labels)
        return self

    def transform(self, X):
        return featurize_array(self._input(X), self.descriptors, self.table, self.threads, errors=self.errors)

    def get_feature_names_out(self, input_features=None):
        if not hasattr(self, "feature_names_out_"):
            self.fit()
        return self.feature_names_out_
