"""Keys of flat checkpoint files (npz, safetensors) to and from leaves; conventions in `layout`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence

import numpy as np

from hk2nnx.port.formats import layout
from hk2nnx.port.formats.errors import CheckpointError
from hk2nnx.port.formats.layout import Kind, Leaf, Side
from hk2nnx.port.formats.lazy import Slot


class FlatEncoder:
    """Names each leaf for a flat file and gathers the metadata that must travel with them."""

    def __init__(self, side: Side, source: str) -> None:
        self.side, self.source = side, source
        self._seen: set[str] = set()
        self._state: list[str] = []

    def key(self, leaf: Leaf | Slot) -> str:
        key = self._key(leaf)
        if key in self._seen:
            raise CheckpointError(f"{self.source}: two leaves would both be stored as {key!r}")
        self._seen.add(key)
        if leaf.kind == "state":
            self._state.append(key)
        return key

    def _key(self, leaf: Leaf | Slot) -> str:
        if leaf.kind == "nnx":
            parts = leaf.name.split(".")
            if "/" in leaf.name or not all(parts):
                raise CheckpointError(f"{self.source}: {leaf.name!r} is not a dotted NNX path")
            return leaf.name
        if "/" in leaf.name or not leaf.module or not leaf.name:
            raise CheckpointError(f"{self.source}: cannot store {leaf.label!r}: module and leaf "
                                  "name must be non-empty and the leaf name must not contain '/'")
        prefix = layout.RESIDUAL_PREFIX if leaf.kind == "residual" else ""
        return f"{prefix}{leaf.module}/{leaf.name}"

    def meta(self) -> dict[str, str]:
        extra = {layout.META_STATE_KEYS: json.dumps(self._state)} if self.side == "haiku" else {}
        return layout.metadata(self.side, extra)


@dataclasses.dataclass(frozen=True)
class FlatDecoder:
    """Turns stored keys back into leaves, for one file whose keys were all checked up front."""

    side: Side
    state_keys: frozenset[str]
    prefixed: bool  # foreign Haiku file whose keys all start with params/ or state/

    @classmethod
    def for_file(cls, keys: Sequence[str], meta: Mapping[str, str], side: Side,
                 source: str) -> FlatDecoder:
        layout.check_side(meta, side, source)
        try:
            state = frozenset(json.loads(meta.get(layout.META_STATE_KEYS, "[]")))
        except (ValueError, TypeError):
            raise CheckpointError(f"{source}: metadata {layout.META_STATE_KEYS} is not a JSON "
                                  "list of keys") from None
        prefixed = side == "haiku" and layout.META_LAYOUT not in meta and bool(keys) and all(
            k.partition("/")[0] in ("params", "state") and k.count("/") >= 2 for k in keys)
        decoder = cls(side, state, prefixed)
        bad = [k for k in keys if decoder._fault(k)]
        if bad:
            raise CheckpointError(f"{source}: {decoder._fault(bad[0])}: "
                                  + layout.faults_text([repr(k) for k in bad]))
        return decoder

    def _fault(self, key: str) -> str:
        if self.side == "haiku" and "/" not in key:
            hint = " (dotted keys: an NNX-side file? use read_nnx_checkpoint)" if "." in key else ""
            return f"keys must look like <module>/<leaf>{hint}"
        if self.side == "nnx" and "/" in key and not key.startswith(layout.RESIDUAL_PREFIX):
            return ("keys must be dotted NNX paths; <module>/<leaf> keys belong to a Haiku "
                    "checkpoint (use read_haiku_checkpoint)")
        return ""

    def leaf(self, key: str, array: np.ndarray) -> Leaf:
        return Leaf(*self.place(key), array)

    def place(self, key: str) -> tuple[Kind, str, str]:
        """(kind, module, name) of a stored key."""
        if self.side == "nnx":
            if key.startswith(layout.RESIDUAL_PREFIX):
                module, _, name = key[len(layout.RESIDUAL_PREFIX):].rpartition("/")
                return "residual", module, name
            return "nnx", "", key
        kind: Kind = "state" if key in self.state_keys else "params"
        if self.prefixed:
            first, _, key = key.partition("/")
            kind = "state" if first == "state" else "params"
        module, _, name = key.rpartition("/")
        return kind, module, name
