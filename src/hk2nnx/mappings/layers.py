"""DATA: for each Haiku layer, its NNX counterpart and how each leaf moves between them.

A leaf reference is relative to the layer's own Haiku path: `w` for the layer's own parameter,
`query/w` for a child built in `__call__`, `~/mean_ema/average` for one built in `__init__`.
Read by one generic engine (`hk2nnx.program.build`, `hk2nnx.port`); tests check every entry
against the installed haiku and flax.

Targets named `hk2nnx_compat.X` have no NNX layer with the same leaves: the converter emits a
small compat module holding exactly the listed leaves, in Haiku's layout. Composite layers with
no entry (hk.nets.MLP, ResNet, MobileNetV1, DeepRNN, SeparableDepthwiseConv2D, Conv*DLSTM,
EMAParamsTree, SNParamsTree) move leaf by leaf through the entries of their children.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
from collections.abc import Iterator

from hk2nnx.port import ops


@dataclasses.dataclass(frozen=True)
class LeafRule:
    """Haiku leaves (relative refs) <-> NNX leaves (relative dotted paths), through one op."""

    haiku: tuple[str, ...]
    nnx: tuple[str, ...]
    op: ops.Op = ops.Identity()
    collection: str = "params"  # Haiku collection of the sources; NNX type follows from it


COMPAT_PREFIX = "hk2nnx_compat."


@dataclasses.dataclass(frozen=True)
class LayerMapping:
    haiku: str  # public qualified name, e.g. "haiku.Linear"
    nnx: str  # qualified NNX class the leaves are laid out for, e.g. "flax.nnx.Linear"
    leaves: tuple[LeafRule, ...]
    notes: str = ""  # what the port does not carry over (numerics, constructor arguments)
    # Faithful mode's target when it differs: a compat module holding Haiku's exact function
    # and leaves. None: this target, built with the right arguments, is already faithful.
    faithful: LayerMapping | None = None

    def rule_for(self, ref: str) -> LeafRule | None:
        return next((r for r in self.leaves if ref in r.haiku), None)

    @property
    def nnx_class_name(self) -> str:
        return self.nnx.rsplit(".", 1)[-1]

    @property
    def is_compat(self) -> bool:
        """No NNX layer holds these leaves; the converter emits `hk2nnx_compat` modules."""
        return self.nnx.startswith(COMPAT_PREFIX)


def _rename(*pairs: str, collection: str = "params") -> tuple[LeafRule, ...]:
    """`_rename("w", "kernel", "b", "bias")`: one-to-one renames with no layout change."""
    return tuple(
        LeafRule((h,), (n,), ops.Identity(), collection) for h, n in zip(pairs[::2], pairs[1::2])
    )


_KERNEL_BIAS = _rename("w", "kernel", "b", "bias")
_CONV = (LeafRule(("w",), ("kernel",)), LeafRule(("b",), ("bias",), ops.Flatten()))
_SCALE_OFFSET = (LeafRule(("scale",), ("scale",), ops.Flatten()),
                 LeafRule(("offset",), ("bias",), ops.Flatten()))
_CONVS = ("Conv1D", "Conv2D", "Conv3D", "ConvND")
_CONV_TRANSPOSES = ("Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose", "ConvNDTranspose")
_DEPTHWISE = ("DepthwiseConv1D", "DepthwiseConv2D", "DepthwiseConv3D")
_LSTM_GATES = ("i", "f", "g", "o")  # NNX order; Haiku fuses them as (i, g, f, o)


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


def _lstm_leaves() -> tuple[LeafRule, ...]:
    kernels = tuple(f"{side}{gate}.kernel".replace("if.", "if_.")
                    for side in ("i", "h") for gate in _LSTM_GATES)
    biases = tuple(f"h{gate}.bias" for gate in _LSTM_GATES)
    return (
        LeafRule(("linear/w",), kernels, ops.GateBlocks(4, (0, 2, 1, 3), split_rows=True)),
        LeafRule(("linear/b",), biases, ops.GateBlocks(4, (0, 2, 1, 3))),
    )


def _compat(haiku: str, *names: str, collection: str = "params", notes: str = "") -> LayerMapping:
    """A layer with no NNX counterpart: leaves keep their names and Haiku layout."""
    cls = haiku.rsplit(".", 1)[-1]
    return LayerMapping(haiku, COMPAT_PREFIX + cls,
                        _rename(*[n for name in names for n in (name, name)],
                                collection=collection), notes)



def _faithful(haiku: str, leaves: tuple[LeafRule, ...], notes: str) -> LayerMapping:
    """Faithful mode's compat target (`hk2nnx.compat`): Haiku's function and leaf layout."""
    return LayerMapping(haiku, COMPAT_PREFIX + haiku.rsplit(".", 1)[-1], leaves, notes)


def _linears(*children: str) -> tuple[LeafRule, ...]:
    """Haiku hk.Linear children kept as nnx.Linear attributes of the same name."""
    return _rename(*[x for c in children for x in (f"{c}/w", f"{c}.kernel", f"{c}/b", f"{c}.bias")])


def _faithful_ema(child: str) -> tuple[LeafRule, ...]:
    """A BatchNorm statistic kept as a full ExponentialMovingAverage (flat per-feature)."""
    return (LeafRule((f"~/{child}/counter",), (f"{child}.counter",), ops.Identity(), "state"),
            *(LeafRule((f"~/{child}/{leaf}",), (f"{child}.{leaf}",), ops.Flatten(), "state")
              for leaf in ("hidden", "average")))


_FAITHFUL_BATCH_NORM = _faithful("haiku.BatchNorm", (
    LeafRule(("scale",), ("scale",), ops.Flatten()),
    LeafRule(("offset",), ("offset",), ops.Flatten()),
    *_faithful_ema("mean_ema"),
    *_faithful_ema("var_ema"),
), "keeps counter/hidden/average so training continues with Haiku's zero-debiased EMA")


LAYERS: tuple[LayerMapping, ...] = (
    LayerMapping("haiku.Linear", "flax.nnx.Linear", _KERNEL_BIAS),
    *(LayerMapping(f"haiku.{c}", "flax.nnx.Conv", _CONV,
                   "Haiku NCHW (data_format) layers keep the kernel as (..., I, O) but a "
                   "(C, 1, ...) bias; NNX convolutions are channels-last") for c in _CONVS),
    *(
        LayerMapping(f"haiku.{c}", "flax.nnx.ConvTranspose", (
            LeafRule(("w",), ("kernel",), ops.SwapLastTwo()),
            LeafRule(("b",), ("bias",), ops.Flatten())),
            "Haiku kernel is spatial + (out, in), NNX (transpose_kernel=False) spatial + (in, out)")
        for c in _CONV_TRANSPOSES
    ),
    *(LayerMapping(f"haiku.{c}", "flax.nnx.Conv", _CONV,
                   "NNX Conv(in_features=C, out_features=C * channel_multiplier, "
                   "feature_group_count=C) has the same (..., 1, C * M) kernel")
      for c in _DEPTHWISE),
    LayerMapping("haiku.LayerNorm", "flax.nnx.LayerNorm", _SCALE_OFFSET,
                 "pass epsilon (Haiku 1e-5, NNX 1e-6); several param axes flatten into one"),
    LayerMapping("haiku.InstanceNorm", "flax.nnx.InstanceNorm", _SCALE_OFFSET,
                 "pass epsilon (Haiku 1e-5, NNX 1e-6)"),
    LayerMapping("haiku.RMSNorm", "flax.nnx.RMSNorm", (_SCALE_OFFSET[0],),
                 "pass epsilon (Haiku 1e-5, NNX 1e-6)"),
    LayerMapping("haiku.GroupNorm", "flax.nnx.GroupNorm", _SCALE_OFFSET,
                 "pass epsilon (Haiku 1e-5, NNX 1e-6)"),
    LayerMapping("haiku.BatchNorm", "flax.nnx.BatchNorm", (
        *_SCALE_OFFSET,
        _ema("mean_ema", "mean"),
        _ema("var_ema", "var"),
    ), "NNX keeps only the debiased averages; Haiku's EMA counter and hidden go to the residual",
        faithful=_FAITHFUL_BATCH_NORM),
    LayerMapping("haiku.Embed", "flax.nnx.Embed", _rename("embeddings", "embedding"),
                 "nnx.Embed returns NaN for out-of-range ids where Haiku clamps them",
                 faithful=_faithful("haiku.Embed", _rename("embeddings", "embedding"),
                                    "an nnx.Embed that indexes (clamps) like Haiku")),
    LayerMapping("haiku.MultiHeadAttention", "flax.nnx.MultiHeadAttention", (
        *_heads("query", "query", -1),
        *_heads("key", "key", -1),
        *_heads("value", "value", -1),
        *_heads("linear", "out", 0),
    ), "NNX needs value_size == key_size (one qkv_features); out_features = model_size",
        faithful=_faithful("haiku.MultiHeadAttention", _linears("query", "key", "value", "linear"),
                           "Haiku's (D, H*K) projections; any value_size and input sizes")),
    LayerMapping("haiku.LSTM", "flax.nnx.LSTMCell", _lstm_leaves(),
                 "Haiku adds 1 to the forget gate pre-activation at call time; NNX does not, so "
                 "equal weights give different outputs until hf.bias is shifted by +1 (a "
                 "numerics decision left to the converter). Input kernels carry no bias in NNX: "
                 "Haiku's single bias goes to the hidden-side layers.",
                 faithful=_faithful("haiku.LSTM", _linears("linear"),
                                    "one fused linear, gates (i, g, f, o), +1 forget bias")),
    _compat("haiku.GRU", "w_i", "w_h", "b",
            notes="nnx.GRUCell is a different function: it resets after the recurrent matmul "
                  "(r * (W_hn h)) and swaps the update gate's role, so no weight layout makes "
                  "it equal Haiku's GRU"),
    LayerMapping("haiku.VanillaRNN", "flax.nnx.SimpleCell", (
        LeafRule(("linear/w",), ("dense_i.kernel",)),
        LeafRule(("linear_1/w",), ("dense_h.kernel",)),
        LeafRule(("linear/b", "linear_1/b"), ("dense_i.bias",), ops.Sum()),
    ), "Haiku applies relu: build SimpleCell(activation_fn=nnx.relu). With double_bias the two "
       "biases sum into dense_i.bias; the originals go to the residual",
       faithful=_faithful("haiku.VanillaRNN", _linears("linear", "linear_1"),
                          "two biases trained separately, as Haiku's double_bias does")),
    _compat("haiku.Bias", "b"),
    _compat("haiku.nets.VectorQuantizer", "embeddings"),
    _compat("haiku.nets.VectorQuantizerEMA", "embeddings", collection="state",
            notes="its ema_cluster_size and ema_dw children map as ExponentialMovingAverage"),
    _compat("haiku.ExponentialMovingAverage", "counter", "hidden", "average", collection="state"),
    _compat("haiku.SpectralNorm", "u0", "sigma", collection="state",
            notes="nnx.SpectralNorm wraps a layer and keys its state by the layer's params"),
)

BY_HAIKU: dict[str, LayerMapping] = {m.haiku: m for m in LAYERS}

IDIOMATIC = "idiomatic"
FAITHFUL = "faithful"
MODES = (IDIOMATIC, FAITHFUL)
_MODE: contextvars.ContextVar[str] = contextvars.ContextVar("hk2nnx_layer_targets",
                                                           default=IDIOMATIC)


@contextlib.contextmanager
def targets(mode: str) -> Iterator[None]:
    """Every table lookup inside answers with `mode`'s targets.

    trace, port and verify find layers through `for_classes`/`for_nnx_class` deep in their own
    code; this lets one call (`with targets(FAITHFUL): hk2nnx.verify(...)`) use the compat
    targets throughout without each layer of the stack passing a mode along.
    """
    if mode not in MODES:
        raise ValueError(f"unknown target mode {mode!r}; expected one of {MODES}")
    token = _MODE.set(mode)
    try:
        yield
    finally:
        _MODE.reset(token)


def resolve(mapping: LayerMapping, mode: str | None = None) -> LayerMapping:
    """The entry's target in `mode` (default: the one set by `targets`, else idiomatic)."""
    if (mode or _MODE.get()) == FAITHFUL and mapping.faithful is not None:
        return mapping.faithful
    return mapping


def for_classes(qualified_names: tuple[str, ...], mode: str | None = None) -> LayerMapping | None:
    """The mapping for the first class along an MRO that has one (subclasses of layers)."""
    found = next((BY_HAIKU[n] for n in qualified_names if n in BY_HAIKU), None)
    return resolve(found, mode) if found is not None else None


def held_mode(held_class: str) -> str:
    """Flax's own classes are idiomatic targets; any other class (compat modules emitted into
    `_haiku_compat.py`, or hk2nnx's templates) is taken as a faithful one."""
    return IDIOMATIC if held_class.startswith("flax.") else FAITHFUL


def matching(mapping: LayerMapping, held_class: str | None) -> LayerMapping:
    """The entry's target that a model holding `held_class` (module.Name) at the layer's path
    was built with: converted code in faithful mode holds compat classes (named like Flax's)."""
    if held_class is None:
        return resolve(mapping)
    name = held_class.rpartition(".")[2]
    if held_mode(held_class) == FAITHFUL and mapping.faithful is not None \
            and name == mapping.faithful.nnx_class_name:
        return mapping.faithful
    return mapping if name == mapping.nnx_class_name else resolve(mapping)


def for_nnx_class(nnx_name: str, haiku_refs: set[str],
                  mode: str | None = None) -> LayerMapping | None:
    """Reverse lookup when only the NNX side is known: the entry whose leaves cover the refs."""
    candidates = [m for m in (resolve(e, mode) for e in LAYERS) if m.nnx_class_name == nnx_name]
    for mapping in candidates:
        refs = {r for rule in mapping.leaves for r in rule.haiku}
        if haiku_refs and haiku_refs <= refs:
            return mapping
    return None
