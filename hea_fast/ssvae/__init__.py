"""Disentangled semi-supervised VAE for inverse design (arXiv 2409.06740)."""
