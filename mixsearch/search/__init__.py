"""The search: a Study (recipe, data, store) and its steps - launching runs, fitting surrogates, recommending, validating, sweeping - with the answer they keep."""
