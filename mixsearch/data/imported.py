"""The data of a fit-only study (no domain has a source): nothing to tokenize, token counts from
the recipe (`domains[].tokens`), or none at all (a uniform prior and no epoch caps)."""

from __future__ import annotations

from mixsearch.data.prepare import DomainTokens, PreparedData
from mixsearch.data.tokenizer import ByteTokenizer
from mixsearch.hashing import stable_hash
from mixsearch.recipe.schema import Recipe

UNCOUNTED = 10**15  # tokens of a domain without a count: equal shares, no epoch cap binds


def imported_data(recipe: Recipe) -> PreparedData:
    """PreparedData for a fit-only recipe; no file is read or written."""
    vocab = ByteTokenizer.vocab_size if recipe.tokenizer.kind == "byte" else recipe.tokenizer.vocab_size
    tokens = {d.name: d.tokens or UNCOUNTED for d in recipe.domains}
    data_hash = stable_hash({"fit_only": tokens, "evals": [e.name for e in recipe.eval_sets]})
    return PreparedData(data_hash, vocab, vocab - 1,
                        {n: DomainTokens(n, "", t, 0) for n, t in tokens.items()},
                        {e.name: DomainTokens(e.name, "", 0, 0) for e in recipe.eval_sets})
