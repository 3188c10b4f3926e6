"""Performance harness: converted NNX code against its Haiku original, ratios from one run."""
