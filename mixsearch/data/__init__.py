"""Data stage: fetch real text, read sources, tokenize into cached memmaps, sample mixtures of sequences."""
