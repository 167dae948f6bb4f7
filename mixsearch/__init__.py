"""mixsearch: search LLM data mixtures with proxy models, surrogates and proposals."""

__version__ = "0.1.0"
