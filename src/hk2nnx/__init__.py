"""hk2nnx: migrate Haiku programs to Flax NNX: trace, convert, port, verify, bridge."""

from hk2nnx.bridge import HaikuModule as HaikuModule
from hk2nnx.port.api import PortResult as PortResult
from hk2nnx.port.api import port_to_haiku as port_to_haiku
from hk2nnx.port.api import port_to_nnx as port_to_nnx
from hk2nnx.port.formats import load_into as load_into
from hk2nnx.port.plan import PortError as PortError
from hk2nnx.program.model import Program as Program
from hk2nnx.program.model import TensorSpec as TensorSpec
from hk2nnx.program.summary import summary as summary
from hk2nnx.trace.tracer import TraceError as TraceError
from hk2nnx.trace.tracer import trace as trace
from hk2nnx.verify import VerifyReport as VerifyReport
from hk2nnx.verify import verify as verify

__version__ = "0.1.0"

__all__ = [
    "HaikuModule", "PortError", "PortResult", "Program", "TensorSpec", "TraceError",
    "VerifyReport", "load_into", "port_to_haiku", "port_to_nnx", "summary", "trace", "verify",
]
