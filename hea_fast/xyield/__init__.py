"""X-Yield: Maresca-Curtin simulation, pseudo-images and cross-quality transfer (Bi-RPT)."""
