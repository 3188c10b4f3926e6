"""DATA: for each Haiku layer, its NNX counterpart and how each leaf moves between them.

A leaf reference is relative to the layer's own Haiku path: `w` for the layer's own parameter,
`query/w` for a child built in `__call__`, `~/mean_ema/average` for one built in `__init__`.
Read by one generic engine (`hk2nnx.program.build`, `hk2nnx.port`); tests check every entry
against the installed haiku and flax.
"""

from __future__ import annotations

import dataclasses

from hk2nnx.port import ops


@dataclasses.dataclass(frozen=True)
class LeafRule:
    """Haiku leaves (relative refs) <-> NNX leaves (relative dotted paths), through one op."""

    haiku: tuple[str, ...]
    nnx: tuple[str, ...]
    op: ops.Op = ops.Identity()
    collection: str = "params"  # Haiku collection of the sources; NNX type follows from it


@dataclasses.dataclass(frozen=True)
class LayerMapping:
    haiku: str  # public qualified name, e.g. "haiku.Linear"
    nnx: str  # qualified NNX class the leaves are laid out for, e.g. "flax.nnx.Linear"
    leaves: tuple[LeafRule, ...]

    def rule_for(self, ref: str) -> LeafRule | None:
        return next((r for r in self.leaves if ref in r.haiku), None)

    @property
    def nnx_class_name(self) -> str:
        return self.nnx.rsplit(".", 1)[-1]


def _rename(*pairs: str, collection: str = "params") -> tuple[LeafRule, ...]:
    """`_rename("w", "kernel", "b", "bias")`: one-to-one renames with no layout change."""
    return tuple(
        LeafRule((h,), (n,), ops.Identity(), collection) for h, n in zip(pairs[::2], pairs[1::2])
    )


_KERNEL_BIAS = _rename("w", "kernel", "b", "bias")
_SCALE_OFFSET = _rename("scale", "scale", "offset", "bias")
_CONVS = ("Conv1D", "Conv2D", "Conv3D", "ConvND")
_CONV_TRANSPOSES = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "ConvNDTranspose")
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D", "DepthwiseConv3D")


def _ema(haiku_child: str, nnx_leaf: str) -> LeafRule:
    refs = tuple(f"~/{haiku_child}/{leaf}" for leaf in ("counter", "hidden", "average"))
    return LeafRule(refs, (nnx_leaf,), ops.DebiasedEma(), "state")


def _heads(proj: str, nnx_proj: str, axis: int) -> tuple[LeafRule, ...]:
    """MultiHeadAttention projections: Haiku flattens heads into one axis, NNX keeps them."""
    return (
        LeafRule((f"{proj}/w",), (f"{nnx_proj}.kernel",), ops.Reshape(axis, "num_heads")),
        LeafRule((f"{proj}/b",), (f"{nnx_proj}.bias",),
                 ops.Reshape(-1, "num_heads") if axis == -1 else ops.Identity()),
    )


LAYERS: tuple[LayerMapping, ...] = (
    LayerMapping("haiku.Linear", "flax.nnx.Linear", _KERNEL_BIAS),
    *(LayerMapping(f"haiku.{c}", "flax.nnx.Conv", _KERNEL_BIAS) for c in _CONVS),
    *(
        LayerMapping(f"haiku.{c}", "flax.nnx.ConvTranspose", (
            LeafRule(("w",), ("kernel",), ops.SwapLastTwo()), *_rename("b", "bias")))
        for c in _CONV_TRANSPOSES
    ),
    *(LayerMapping(f"haiku.{c}", "flax.nnx.Conv", _KERNEL_BIAS) for c in _DEPTHWISE),
    LayerMapping("haiku.LayerNorm", "flax.nnx.LayerNorm", _SCALE_OFFSET),
    LayerMapping("haiku.InstanceNorm", "flax.nnx.LayerNorm", _SCALE_OFFSET),
    LayerMapping("haiku.RMSNorm", "flax.nnx.RMSNorm", _rename("scale", "scale")),
    LayerMapping("haiku.GroupNorm", "flax.nnx.GroupNorm", _SCALE_OFFSET),
    LayerMapping("haiku.BatchNorm", "flax.nnx.BatchNorm", (
        LeafRule(("scale",), ("scale",), ops.SqueezeLeadingOnes()),
        LeafRule(("offset",), ("bias",), ops.SqueezeLeadingOnes()),
        _ema("mean_ema", "mean"),
        _ema("var_ema", "var"),
    )),
    LayerMapping("haiku.Embed", "flax.nnx.Embed", _rename("embeddings", "embedding")),
    LayerMapping("haiku.MultiHeadAttention", "flax.nnx.MultiHeadAttention", (
        *_heads("query", "query", -1),
        *_heads("key", "key", -1),
        *_heads("value", "value", -1),
        *_heads("linear", "out", 0),
    )),
)

BY_HAIKU: dict[str, LayerMapping] = {m.haiku: m for m in LAYERS}


def for_classes(qualified_names: tuple[str, ...]) -> LayerMapping | None:
    """The mapping for the first class along an MRO that has one (subclasses of layers)."""
    return next((BY_HAIKU[n] for n in qualified_names if n in BY_HAIKU), None)


def for_nnx_class(nnx_name: str, haiku_refs: set[str]) -> LayerMapping | None:
    """Reverse lookup when only the NNX side is known: the entry whose leaves cover the refs."""
    candidates = [m for m in LAYERS if m.nnx_class_name == nnx_name]
    for mapping in candidates:
        refs = {r for rule in mapping.leaves for r in rule.haiku}
        if haiku_refs and haiku_refs <= refs:
            return mapping
    return None
