"""HaikuModule: an nnx.Module that runs an unconverted Haiku program with NNX-held weights."""

from __future__ import annotations

from typing import Any

import jax
from flax import nnx
from haiku._src.base import MissingRNGError

from hk2nnx.bridge import _layout
from hk2nnx.bridge._haiku import (ApplyEntry, HaikuFunctions, haiku_functions, materialize,
                                  run_init)
from hk2nnx.program.model import Program
from hk2nnx.trace.tracer import trace


class _Static:
    """Holds the pure Haiku functions, the Program and the layout as one static attribute.

    Hashed by identity: NNX puts static attributes in the graphdef, and hashing a whole Program
    on every `nnx.jit` call would cost time for nothing.
    """

    def __init__(self, functions: HaikuFunctions, program: Program,
                 layout: tuple[_layout.Slot, ...]):
        self.functions = functions
        self.program = program
        self.layout = layout


class HaikuModule(nnx.Module):
    """Runs a Haiku model as an NNX module; its weights and state are NNX variables.

    Leaves sit along the naming scheme's module paths, in Haiku layout, named by
    `naming.sanitize(haiku_name)`, so `port_to_nnx(params, state, bridge)` and
    `port_to_haiku(bridge, bridge.program)` move checkpoints in and out unchanged. The training
    flag (`is_training` / `training`) is filled from the module's mode when the caller omits it:
    training unless both `deterministic` and `use_running_average` are True, so `train()` and
    `eval()` switch it like any NNX model. RNG keys come from the `dropout` stream of `rngs`
    (or its default stream).
    """

    def __init__(self, transformed_or_fn: Any, *sample_args: Any,
                 rngs: nnx.Rngs | None = None, _zeros: bool = False, **sample_kwargs: Any):
        rngs = rngs if rngs is not None else nnx.Rngs(0)
        functions = haiku_functions(transformed_or_fn, sample_kwargs)
        init_kwargs = functions.init_kwargs(sample_kwargs)
        program = trace(transformed_or_fn, *sample_args, **init_kwargs)
        args, kwargs = materialize(sample_args, init_kwargs, seed=0)
        params, state = run_init(functions, rngs.params(), args, kwargs, zeros=_zeros)
        layout = _layout.slots(params, state)
        self._hk2nnx_static = _Static(functions, program, layout)
        self._hk2nnx_haiku_layout = True
        self.deterministic = False
        self.use_running_average = False
        self.rngs = rngs
        _layout.install(self, layout, params, state, program)

    @classmethod
    def zeros(cls, transformed_or_fn: Any, *sample_args: Any, rngs: nnx.Rngs | None = None,
              **sample_kwargs: Any) -> HaikuModule:
        """A bridge whose leaves are zeros: shapes from an abstract init, no initializer runs.

        For weights that are about to be loaded (`port_to_nnx`, `verify`), it skips compiling
        and running Haiku's initializers.
        """
        return cls(transformed_or_fn, *sample_args, rngs=rngs, _zeros=True, **sample_kwargs)

    @property
    def program(self) -> Program:
        """The trace of the wrapped Haiku program (module tree, leaves, RNG users)."""
        return self._hk2nnx_static.program

    @property
    def training(self) -> bool:
        return not (self.deterministic and self.use_running_average)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._run(self._hk2nnx_static.functions.select(None), args, kwargs)

    def apply_method(self, method: int | str, *args: Any, **kwargs: Any) -> Any:
        """Runs one apply of a multi_transform, chosen by index or name (`apply[1]`, dict key)."""
        return self._run(self._hk2nnx_static.functions.select(method), args, kwargs)

    def haiku_trees(self) -> tuple[dict, dict]:
        """The current (params, state) as Haiku dicts, for calling Haiku code directly."""
        return _layout.gather(self, self._hk2nnx_static.layout)

    def nnx_path(self, module: str, name: str) -> str:
        """Dotted attribute path of one Haiku leaf inside this bridge."""
        for slot in self._hk2nnx_static.layout:
            if (slot.module, slot.name) == (module, name):
                return slot.dotted
        raise KeyError(f"no Haiku leaf {module}/{name} in this bridge")

    def peek_rng_key(self) -> jax.Array:
        """The key the next call will draw, without drawing it (verify feeds it to Haiku)."""
        return nnx.clone(self.rngs).dropout()

    def _run(self, entry: ApplyEntry, args: tuple, kwargs: dict) -> Any:
        if entry.flag_missing(args, kwargs):
            kwargs = {**kwargs, entry.flag: self.training}
        params, state = self.haiku_trees()
        program = self._hk2nnx_static.program
        uses_rng = bool(program.rng_users) or any(t.kind == "dropout" for t in program.transforms)
        try:
            rng = self.rngs.dropout() if uses_rng else None
            out, new_state = entry.fn(params, state, rng, *args, **kwargs)
        except MissingRNGError:  # RNG used only on a path the trace did not take
            out, new_state = entry.fn(params, state, self.rngs.dropout(), *args, **kwargs)
        _layout.scatter_state(self, self._hk2nnx_static.layout, new_state)
        return out
