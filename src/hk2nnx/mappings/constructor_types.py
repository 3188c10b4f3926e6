"""The record types of the constructor tables: a Haiku constructor argument, a call argument,
and one layer's mapping (read by `hk2nnx.convert.rules.layers`)."""

from __future__ import annotations

import dataclasses

COPY = "copy"  # the expression moves unchanged
NTUPLE = "ntuple"  # an int literal is replicated to the layer's spatial rank: 3 -> (3, 3)
INITIALIZER = "initializer"  # a Haiku initializer, via hk2nnx.compat.initializers

IS_TRAINING = "is_training"  # a call argument that becomes the module's train/eval mode
INPUT = "input"  # the call argument that is the layer's input
OTHER = "other"  # a call argument passed through unchanged (attention's key, an RNN's state)

COMPAT = "hkc."  # an `nnx` target spelled `hkc.X`: the class X of `_haiku_compat.py`


@dataclasses.dataclass(frozen=True)
class Arg:
    """One Haiku constructor argument and where it goes in the NNX constructor."""

    haiku: str
    nnx: str | None  # None: consumed by the converter (e.g. `name` names the attribute)
    convert: str = COPY
    haiku_default: str | None = None  # passed explicitly when absent: NNX's default differs
    # INITIALIZER: (in_axis, out_axis) in NNX's layout of the axes Haiku's fans count, when
    # they differ from jax's (-2, -1) (transposed convolutions keep (..., out, in) in Haiku).
    fan_axes: tuple[int, int] | None = None
    omit: tuple[str, ...] = ()  # values (source text) that equal NNX's default: not written
    only: tuple[str, ...] = ()  # the only values (source text) NNX can express; else manual
    leaf: str | None = None  # INITIALIZER: the Haiku leaf it draws (faithful mode's default)


@dataclasses.dataclass(frozen=True)
class CallArg:
    """One argument of the Haiku layer's `__call__`, by position and name."""

    haiku: str
    position: int
    role: str  # INPUT or IS_TRAINING
    nnx: str | None = None  # NNX call keyword that takes the role's value, if kept


@dataclasses.dataclass(frozen=True)
class ConstructorMapping:
    """A Haiku layer class and the NNX constructor call that replaces it."""

    haiku: str  # public qualified name, e.g. "haiku.Linear"
    nnx: str  # e.g. "nnx.Linear", as written in converted code (`from flax import nnx`)
    args: tuple[Arg, ...]
    in_features: str | None  # NNX argument receiving the input's last-axis size
    out_features: str | None  # Haiku argument giving the output's last-axis size; None: same
    positional: tuple[str, ...] = ()  # NNX arguments written positionally, in this order
    call: tuple[CallArg, ...] = (CallArg("inputs", 0, INPUT),)
    spatial_dims: int = 0
    rank_arg: str | None = None  # the Haiku argument giving spatial_dims (an int literal)
    section: str = "Basic Module definition"
    notes: str = ""
    # (NNX argument, Haiku call argument): more input sizes NNX needs eagerly (attention's key
    # and value), each the last-axis size of that call argument.
    input_sizes: tuple[tuple[str, str], ...] = ()
    rngs: bool = True  # the NNX constructor takes `rngs=` (stateless compat classes do not)
    holds_variables: bool = True  # False: no leaves of its own to port (pooling; composites
    # whose children port by their own entries)
    # (NNX argument, leading axes dropped): the input's whole shape, read from a trace
    input_shape: tuple[str, int] | None = None
    # The output size when `out_features` is absent or None, over Haiku arguments and `{in}`
    # (the input size): "{num_heads} * {key_size}", "{in} * {channel_multiplier}".
    out_expr: str | None = None
    derived: tuple[tuple[str, str], ...] = ()  # NNX arguments computed like `out_expr`
    fixed: tuple[tuple[str, str], ...] = ()  # faithful mode: NNX arguments Haiku's math needs

    @property
    def haiku_class_name(self) -> str:
        return self.haiku.rsplit(".", 1)[-1]

    def arg(self, haiku_name: str) -> Arg | None:
        return next((a for a in self.args if a.haiku == haiku_name), None)

    @property
    def compat_only(self) -> bool:
        """No NNX built-in computes this layer: both modes build the `_haiku_compat` class."""
        return self.nnx.startswith(COMPAT)
