"""DATA: Haiku layers that only a `_haiku_compat` class reproduces, in both conversion modes.

Each entry's NNX target is `hkc.X`, a class of `hk2nnx.compat.templates` taking Haiku's own
arguments (checked against the installed signatures by `tests/convert/test_constructor_table.py`),
plus the input sizes or shapes NNX needs eagerly.
"""

from __future__ import annotations

from hk2nnx.mappings.constructor_types import (
    COMPAT,
    INITIALIZER,
    INPUT,
    IS_TRAINING,
    OTHER,
    Arg,
    CallArg,
    ConstructorMapping,
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


_NETS_CALL = ("inputs", "is_training", "test_local_stats")
_RESNET_NOTES = ("no NNX ResNet; Haiku's zero-debiased BatchNorms, `is_training` becomes the "
                 "module's train/eval mode, `test_local_stats` stays a call keyword; children "
                 "port by their own entries")


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
    *(_compat(f"Conv{n}DLSTM", ("input_shape", "output_channels", "kernel_shape", "name"),
              call=("inputs", "state"), in_features="in_features", out_features="output_channels",
              holds_variables=False,
              notes="gates from two SAME convolutions (input_to_hidden, hidden_to_hidden), "
                    "+1 forget bias; each child is an nnx.Conv")
      for n in (1, 2, 3)),
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
    _compat("haiku.nets.ResNet", ("blocks_per_group", "num_classes", "bn_config", "resnet_v2",
                                  "bottleneck", "channels_per_group", "use_projection",
                                  "logits_config", "name", "initial_conv_config", "strides"),
            call=_NETS_CALL, in_features="in_channels", out_features="num_classes",
            holds_variables=False, notes=_RESNET_NOTES),
    *(_compat(f"haiku.nets.ResNet{depth}", ("num_classes", "bn_config", "resnet_v2",
                                            "logits_config", "name", "initial_conv_config",
                                            "strides"),
              call=_NETS_CALL, in_features="in_channels", out_features="num_classes",
              holds_variables=False, notes=_RESNET_NOTES)
      for depth in (18, 34, 50, 101, 152, 200)),
    _compat("haiku.nets.MobileNetV1", ("strides", "channels", "num_classes", "use_bn", "name"),
            call=_NETS_CALL[:2], in_features="in_channels", out_features="num_classes",
            holds_variables=False,
            notes="no NNX MobileNet; Haiku's zero-debiased BatchNorms, `is_training` becomes "
                  "the module's train/eval mode; children port by their own entries"),
    *(_compat(cls, ("window_shape", "strides", "padding", "channel_axis", "name"),
              call=("value",), rngs=False, holds_variables=False,
              notes="nnx pooling never pools the last axis and counts SAME padding in averages; "
                    "Haiku infers full-rank windows from ints or short tuples")
      for cls in ("MaxPool", "AvgPool")),
)
