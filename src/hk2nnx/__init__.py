"""hk2nnx: migrate Haiku programs to Flax NNX: trace, convert, port, verify, bridge."""

from hk2nnx.program.model import Program as Program
from hk2nnx.program.model import TensorSpec as TensorSpec
from hk2nnx.trace.tracer import TraceError as TraceError
from hk2nnx.trace.tracer import trace as trace

__version__ = "0.1.0"

__all__ = ["Program", "TensorSpec", "TraceError", "trace"]
