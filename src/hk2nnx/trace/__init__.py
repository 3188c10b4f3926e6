"""trace: run a Haiku program abstractly and record its Program."""
