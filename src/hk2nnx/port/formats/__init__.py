"""Checkpoint files for port: Haiku-side and NNX-side reads and writes, atomic and leak-free.

Formats: .safetensors and .npz (both sides), .pkl/.pickle and flax .msgpack (Haiku side; pickles
are read only through `hk2nnx.port.safe_pickle`), orbax directories (read both sides, write NNX
side). Key conventions: `layout`; the format table: `registry`.

npz and safetensors stream: `open_leaves` gives every leaf's place, shape and dtype from the
header and reads an array only when asked; `write_stream` writes leaves announced up front one at
a time (`lazy`, `sinks`; a renamed safetensors tensor is copied by the kernel, `spans`). Pickle,
msgpack and orbax are read whole, and written from gathered leaves, because their formats cannot
be read or written piecewise.
"""

from hk2nnx.port.formats.api import detect_format as detect_format
from hk2nnx.port.formats.api import iter_haiku_leaves as iter_haiku_leaves
from hk2nnx.port.formats.api import iter_nnx_leaves as iter_nnx_leaves
from hk2nnx.port.formats.api import open_leaves as open_leaves
from hk2nnx.port.formats.api import read_haiku_checkpoint as read_haiku_checkpoint
from hk2nnx.port.formats.api import read_nnx_checkpoint as read_nnx_checkpoint
from hk2nnx.port.formats.api import write_haiku_checkpoint as write_haiku_checkpoint
from hk2nnx.port.formats.api import write_nnx_checkpoint as write_nnx_checkpoint
from hk2nnx.port.formats.api import write_stream as write_stream
from hk2nnx.port.formats.errors import CheckpointError as CheckpointError
from hk2nnx.port.formats.errors import UnsafePickleError as UnsafePickleError
from hk2nnx.port.formats.layout import Leaf as Leaf
from hk2nnx.port.formats.load import load_into as load_into

__all__ = [
    "CheckpointError", "Leaf", "UnsafePickleError", "detect_format", "iter_haiku_leaves",
    "iter_nnx_leaves", "load_into", "open_leaves", "read_haiku_checkpoint",
    "read_nnx_checkpoint", "write_haiku_checkpoint", "write_nnx_checkpoint", "write_stream",
]
