"""Proxy models: a small GPT and its training loop."""
