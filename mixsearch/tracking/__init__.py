"""Experiment trackers (MLflow, Weights & Biases): each finished run of a study logged once."""
