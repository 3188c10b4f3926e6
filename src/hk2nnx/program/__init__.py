"""The shared model of a Haiku program and the Haiku <-> NNX naming scheme."""
