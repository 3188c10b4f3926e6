"""Runs unconverted Haiku models inside NNX programs, with weights held as NNX variables."""

from hk2nnx.bridge._haiku import INT_HIGH, TRAINING_FLAGS, materialize
from hk2nnx.bridge._layout import HaikuScope, HaikuState
from hk2nnx.bridge._module import HaikuModule

__all__ = ["HaikuModule", "HaikuScope", "HaikuState", "INT_HIGH", "TRAINING_FLAGS", "materialize"]
