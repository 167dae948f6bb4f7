"""Proposers: the next batch of (mixture, fidelity) pairs, always on the constrained simplex.
base.py: context and registry; batch.py: `propose`; simplex.py: the shared optimisation; one module per method."""
