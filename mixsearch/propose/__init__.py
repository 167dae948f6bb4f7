"""Proposers: the next batch of (mixture, fidelity) pairs on the constrained simplex; the context, registry and `propose` live in base.py, one method per module."""
