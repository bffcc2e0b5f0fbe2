"""Sparse anchor-guided Bayesian logistic mixture with WBIC subset search (arXiv 2504.20354)."""
