"""Checks that an NNX port computes what the Haiku original does: outputs, gradients, state."""

from hk2nnx.verify._api import verify
from hk2nnx.verify._compare import TOLERANCES
from hk2nnx.verify._report import Row, VerifyReport

__all__ = ["Row", "TOLERANCES", "VerifyReport", "verify"]
