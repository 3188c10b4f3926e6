"""DATA: Haiku functions and value types that converted code takes from `_haiku_compat.py`.

Each has no Flax NNX counterpart with the same contract; `hk2nnx.convert.rules.compat_functions`
renames `hk.X` to `hkc.X` and the compat emitter writes X (`hk2nnx.compat.templates`).
`tests/mappings/test_functions_table.py` checks each entry's signature against Haiku's.
"""

from __future__ import annotations

import dataclasses


@dataclasses.dataclass(frozen=True)
class CompatFunction:
    haiku: str  # public qualified name, e.g. "haiku.dynamic_unroll"
    compat: str  # the `_haiku_compat` name it becomes
    core_arg: int | None = None  # position of an RNN core whose input is `core_arg + 1`
    notes: str = ""


COMPAT_FUNCTIONS: tuple[CompatFunction, ...] = (
    CompatFunction("haiku.dynamic_unroll", "dynamic_unroll", 0,
                   "jax.lax.scan over the NNX core (split/merge), time-major like Haiku"),
    CompatFunction("haiku.static_unroll", "static_unroll", 0,
                   "a Python loop over time, outputs stacked like Haiku's"),
    CompatFunction("haiku.LSTMState", "LSTMState", notes="the (hidden, cell) named tuple"),
    CompatFunction("haiku.max_pool", "max_pool",
                   notes="Haiku's window inference: an int pools every axis but batch/channel"),
    CompatFunction("haiku.avg_pool", "avg_pool",
                   notes="SAME padding averages only the in-bounds values, as Haiku does"),
)

BY_HAIKU: dict[str, CompatFunction] = {f.haiku: f for f in COMPAT_FUNCTIONS}
