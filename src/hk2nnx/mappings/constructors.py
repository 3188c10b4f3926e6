"""DATA: how each Haiku layer constructor maps onto its Flax NNX counterpart.

Hand-written from the installed signatures; `tests/convert/test_constructor_table.py` checks every
argument name (and every default recorded here) against `inspect.signature` of haiku and flax.
Read by one generic engine, `hk2nnx.convert.rules.layers`. Initializers have one table,
`hk2nnx.compat.initializers` (user arguments and each layer's Haiku defaults).
"""

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


_NAME = Arg("name", None)
_W_B = (Arg("w_init", "kernel_init", INITIALIZER, leaf="w"),
        Arg("b_init", "bias_init", INITIALIZER, leaf="b"))
_LAST_AXIS = ("-1",)


def _conv(cls: str, dims: int, data_format: str) -> ConstructorMapping:
    return ConstructorMapping(
        f"haiku.{cls}", "nnx.Conv",
        (
            *((Arg("num_spatial_dims", None),) if cls == "ConvND" else ()),
            Arg("output_channels", "out_features"),
            Arg("kernel_shape", "kernel_size", NTUPLE),
            Arg("stride", "strides"),
            Arg("rate", "kernel_dilation"),
            Arg("padding", "padding"),
            Arg("with_bias", "use_bias"),
            *_W_B,
            Arg("data_format", None, only=(repr(data_format), f'"{data_format}"')),
            Arg("mask", None, only=("None",)),
            Arg("feature_group_count", "feature_group_count"),
            _NAME,
        ),
        in_features="in_features", out_features="output_channels",
        positional=("in_features", "out_features", "kernel_size"), spatial_dims=dims,
        rank_arg="num_spatial_dims" if cls == "ConvND" else None,
        notes="channels-first data_format has no NNX equivalent",
    )


def _conv_transpose(cls: str, dims: int, data_format: str) -> ConstructorMapping:
    return ConstructorMapping(
        f"haiku.{cls}", "nnx.ConvTranspose",
        (
            *((Arg("num_spatial_dims", None),) if cls == "ConvNDTranspose" else ()),
            Arg("output_channels", "out_features"),
            Arg("kernel_shape", "kernel_size", NTUPLE),
            Arg("stride", "strides"),
            Arg("output_shape", None, only=("None",)),
            Arg("padding", "padding"),
            Arg("with_bias", "use_bias"),
            Arg("w_init", "kernel_init", INITIALIZER, leaf="w", fan_axes=(-1, -2)),
            Arg("b_init", "bias_init", INITIALIZER, leaf="b"),
            Arg("data_format", None, only=(repr(data_format), f'"{data_format}"')),
            Arg("mask", None, only=("None",)),
            _NAME,
        ),
        in_features="in_features", out_features="output_channels",
        positional=("in_features", "out_features", "kernel_size"), spatial_dims=dims,
        rank_arg="num_spatial_dims" if cls == "ConvNDTranspose" else None,
        notes="Haiku keeps the kernel as spatial + (out, in), NNX as spatial + (in, out) (the "
              "port swaps them); output_shape= and channels-first data_format have no NNX form",
    )


def _depthwise(cls: str, dims: int, data_format: str) -> ConstructorMapping:
    return ConstructorMapping(
        f"haiku.{cls}", "nnx.Conv",
        (
            Arg("channel_multiplier", None),
            Arg("kernel_shape", "kernel_size", NTUPLE),
            Arg("stride", "strides"),
            Arg("rate", "kernel_dilation"),
            Arg("padding", "padding"),
            Arg("with_bias", "use_bias"),
            *_W_B,
            Arg("data_format", None, only=(repr(data_format), f'"{data_format}"')),
            _NAME,
        ),
        in_features="in_features", out_features=None, out_expr="{in} * {channel_multiplier}",
        derived=(("out_features", "{in} * {channel_multiplier}"),
                 ("feature_group_count", "{in}")),
        positional=("in_features", "out_features", "kernel_size"), spatial_dims=dims,
        notes="an nnx.Conv with one group per input channel has Haiku's (..., 1, C * M) kernel",
    )


_NORM = (  # LayerNorm, GroupNorm, InstanceNorm: scale and offset, Haiku's eps
    Arg("create_scale", "use_scale"),
    Arg("create_offset", "use_bias"),
    Arg("eps", "epsilon", haiku_default="1e-05"),
    Arg("scale_init", "scale_init", INITIALIZER, leaf="scale"),
    Arg("offset_init", "bias_init", INITIALIZER, leaf="offset"),
)
_CHANNELS_LAST = Arg("data_format", None, only=("'channels_last'", '"channels_last"'))
_STATS_ONLY = (("use_fast_variance", "False"),)  # Haiku computes the variance as E[(x - m)^2]

CONSTRUCTORS: tuple[ConstructorMapping, ...] = (
    ConstructorMapping(
        "haiku.Linear", "nnx.Linear",
        (Arg("output_size", "out_features"), Arg("with_bias", "use_bias"), *_W_B, _NAME),
        in_features="in_features", out_features="output_size",
        positional=("in_features", "out_features"),
    ),
    _conv("Conv1D", 1, "NWC"),
    _conv("Conv2D", 2, "NHWC"),
    _conv("Conv3D", 3, "NDHWC"),
    _conv("ConvND", 0, "channels_last"),
    _conv_transpose("Conv1DTranspose", 1, "NWC"),
    _conv_transpose("Conv2DTranspose", 2, "NHWC"),
    _conv_transpose("Conv3DTranspose", 3, "NDHWC"),
    _conv_transpose("ConvNDTranspose", 0, "channels_last"),
    _depthwise("DepthwiseConv1D", 1, "NWC"),
    _depthwise("DepthwiseConv2D", 2, "NHWC"),
    _depthwise("DepthwiseConv3D", 3, "NDHWC"),
    ConstructorMapping(
        "haiku.GroupNorm", "nnx.GroupNorm",
        (
            Arg("groups", "num_groups"),
            Arg("axis", None, only=("slice(1, None)", "slice(1, None, None)")),
            *_NORM,
            _CHANNELS_LAST,
            _NAME,
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        call=(CallArg("x", 0, INPUT),),
        fixed=_STATS_ONLY, notes="every non-batch axis is normalised, channels last",
    ),
    ConstructorMapping(
        "haiku.InstanceNorm", "nnx.InstanceNorm",
        (
            *_NORM,
            _CHANNELS_LAST,
            _NAME,
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        fixed=_STATS_ONLY, notes="channels-first data_format has no NNX form",
    ),
    ConstructorMapping(
        "haiku.LayerNorm", "nnx.LayerNorm",
        (
            Arg("axis", "reduction_axes", omit=_LAST_AXIS),
            *_NORM,
            Arg("use_fast_variance", "use_fast_variance", haiku_default="False"),
            _NAME,
            Arg("param_axis", None, only=("None",) + _LAST_AXIS),
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        notes="parameters live on the last axis only (NNX builds them eagerly from "
              "num_features)",
    ),
    ConstructorMapping(
        "haiku.RMSNorm", "nnx.RMSNorm",
        (
            Arg("axis", "reduction_axes", omit=_LAST_AXIS),
            Arg("eps", "epsilon", haiku_default="1e-05"),
            Arg("scale_init", "scale_init", INITIALIZER, leaf="scale"),
            _NAME,
            Arg("create_scale", "use_scale"),
            Arg("param_axis", None, only=("None",) + _LAST_AXIS),
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
    ),
    ConstructorMapping(
        "haiku.BatchNorm", "nnx.BatchNorm",
        (
            Arg("create_scale", "use_scale"),
            Arg("create_offset", "use_bias"),
            Arg("decay_rate", "momentum"),
            Arg("eps", "epsilon"),
            Arg("scale_init", "scale_init", INITIALIZER, leaf="scale"),
            Arg("offset_init", "bias_init", INITIALIZER, leaf="offset"),
            Arg("axis", None, only=("None",)),
            Arg("cross_replica_axis", "axis_name"),
            Arg("cross_replica_axis_index_groups", "axis_index_groups"),
            _CHANNELS_LAST,
            _NAME,
        ),
        in_features="num_features", out_features=None, positional=("num_features",),
        call=(CallArg("inputs", 0, INPUT),
              CallArg("is_training", 1, IS_TRAINING, "use_running_average")),
        section="Handling non-parameter states",
        notes="Haiku's moving averages are zero-debiased, nnx.BatchNorm's are not",
    ),
    ConstructorMapping(
        "haiku.Embed", "nnx.Embed",
        (
            Arg("vocab_size", "num_embeddings"),
            Arg("embed_dim", "features"),
            Arg("embedding_matrix", None, only=("None",)),
            Arg("w_init", "embedding_init", INITIALIZER, leaf="embeddings"),
            Arg("lookup_style", None, only=("'ARRAY_INDEX'", '"ARRAY_INDEX"')),
            _NAME,
            Arg("precision", None),  # unused by ARRAY_INDEX lookups
        ),
        in_features=None, out_features="embed_dim", positional=("num_embeddings", "features"),
        call=(CallArg("ids", 0, INPUT),),
    ),
)



def _same(*names: str) -> tuple[Arg, ...]:
    """A compat class's arguments: Haiku's names (initializers converted), `name` consumed."""
    return tuple(Arg(n, None) if n == "name" else
                 Arg(n, n, INITIALIZER, leaf=n.removesuffix("_init")) if n.endswith("_init") else
                 Arg(n, n) for n in names)


def _compat(cls: str, args: tuple[str, ...], *, call: tuple[str, ...] = ("inputs",),
            in_features: str | None = None, out_features: str | None = None,
            only: dict[str, tuple[str, ...]] | None = None, notes: str,
            **extra) -> ConstructorMapping:
    """A Haiku layer that only a `_haiku_compat` class reproduces, in both modes; `only`: the
    values an argument the class lacks may take (it is then dropped)."""
    haiku = cls if "." in cls else f"haiku.{cls}"
    calls = tuple(CallArg(a, i, INPUT if i == 0 else IS_TRAINING if a == "is_training" else
                          OTHER) for i, a in enumerate(call))
    mapped = tuple(Arg(a.haiku, None, only=only[a.haiku]) if a.haiku in (only or {}) else a
                   for a in _same(*args))
    return ConstructorMapping(haiku, COMPAT + haiku.rsplit(".", 1)[-1], mapped,
                              in_features=in_features, out_features=out_features, call=calls,
                              notes=notes, **extra)


COMPAT_CONSTRUCTORS: tuple[ConstructorMapping, ...] = (
    _compat("MultiHeadAttention", ("num_heads", "key_size", "w_init_scale", "w_init",
                                   "with_bias", "b_init", "value_size", "model_size", "name"),
            call=("query", "key", "value", "mask"), in_features="in_features",
            out_features="model_size", out_expr="{num_heads} * {key_size}",
            input_sizes=(("key_features", "key"), ("value_features", "value")),
            notes="nnx.MultiHeadAttention has one qkv_features (Haiku allows value_size != "
                  "key_size), keeps heads as a separate kernel axis and scales the query "
                  "before the logits; the compat class keeps Haiku's (D, H*K) projections"),
    _compat("LSTM", ("hidden_size", "name"), call=("inputs", "prev_state"),
            in_features="input_size", out_features="hidden_size",
            notes="nnx.LSTMCell orders gates (i, f, g, o), keeps eight kernels and adds no +1 "
                  "to the forget gate"),
    _compat("GRU", ("hidden_size", "w_i_init", "w_h_init", "b_init", "name"),
            call=("inputs", "state"), in_features="input_size", out_features="hidden_size",
            notes="nnx.GRUCell resets after the recurrent matmul and swaps the update gate's "
                  "role: no weights make it equal Haiku's GRU"),
    _compat("VanillaRNN", ("hidden_size", "double_bias", "name"), call=("inputs", "prev_state"),
            in_features="input_size", out_features="hidden_size",
            notes="nnx.SimpleCell has one bias where Haiku's double_bias trains two"),
    _compat("SeparableDepthwiseConv2D", ("channel_multiplier", "kernel_shape", "stride",
                                         "padding", "with_bias", "w_init", "b_init",
                                         "data_format", "name"),
            in_features="in_features", out_expr="{in} * {channel_multiplier}",
            holds_variables=False,
            notes="two depthwise convolutions, (k0, 1) with the stride and (1, k1) with the "
                  "bias; each is an nnx.Conv with one group per channel"),
    _compat("IdentityCore", ("name",), call=("inputs", "state"), rngs=False,
            holds_variables=False, notes="no weights, an empty state"),
    _compat("Bias", ("output_size", "bias_dims", "b_init", "name"), call=("inputs", "multiplier"),
            input_shape=("input_size", 1),
            notes="no NNX layer adds a bias over chosen axes of a whole input shape"),
    _compat("ExponentialMovingAverage", ("decay", "zero_debias", "warmup_length", "name"),
            call=("value", "update_stats"), input_shape=("shape", 0), rngs=False,
            notes="Haiku's zero-debiased average with its counter; NNX has no such module"),
    _compat("SpectralNorm", ("eps", "n_steps", "name"),
            call=("value", "update_stats", "error_on_non_matrix"), input_shape=("shape", 0),
            notes="nnx.SpectralNorm wraps a layer and keys its state by the layer's params; "
                  "Haiku's normalises any value it is called on"),
    _compat("haiku.nets.VectorQuantizer", ("embedding_dim", "num_embeddings",
                                           "commitment_cost", "dtype", "name",
                                           "cross_replica_axis"),
            call=("inputs", "is_training"), only={"cross_replica_axis": ("None",)},
            notes="no NNX codebook layer; `is_training` changes nothing and is dropped"),
    _compat("haiku.nets.VectorQuantizerEMA", ("embedding_dim", "num_embeddings",
                                              "commitment_cost", "decay", "epsilon", "dtype",
                                              "cross_replica_axis", "name"),
            call=("inputs", "is_training"), only={"cross_replica_axis": ("None",)},
            notes="the codebook is state moved by zero-debiased EMAs; `is_training` becomes "
                  "the module's train/eval mode"),
    *(_compat(cls, ("window_shape", "strides", "padding", "channel_axis", "name"),
              call=("value",), rngs=False, holds_variables=False,
              notes="nnx pooling never pools the last axis and counts SAME padding in averages; "
                    "Haiku infers full-rank windows from ints or short tuples")
      for cls in ("MaxPool", "AvgPool")),
)

CONSTRUCTORS = CONSTRUCTORS + COMPAT_CONSTRUCTORS
BY_HAIKU: dict[str, ConstructorMapping] = {c.haiku: c for c in CONSTRUCTORS}
