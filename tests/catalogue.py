"""THE construct catalogue: every public Haiku layer and hk.nets model, plus naming and transform
constructs, as small ready-to-trace programs shared by the trace, port, verify and convert tests.

API (import as `from catalogue import ENTRIES, BY_ID` under pytest; tests/ is on sys.path):

    entry.id            unique id; golden trace file is tests/golden/traces/<id>.txt
    entry.forward       the Haiku forward function (called inside hk.transform_with_state)
    entry.transformed() hk.TransformedWithState of `forward`
    entry.specs         TensorSpec per positional input
    entry.kwargs        static keyword arguments (e.g. is_training=True)
    entry.inputs(seed)  concrete numpy inputs matching `specs` (ints in [0, int_range))
    entry.init(seed)    concrete (params, state) from Haiku's own initialisers
    entry.trace()       the traced hk2nnx Program (cached per process)
    entry.astype(dt)    the same construct with floating inputs (hence weights) in dtype `dt`
    entry.tags          where it comes from ("descriptors.BATCH_MODULES", "own") and traits
                        ("stateful", "rng", "slow", "bare" = one layer applied to the inputs)

Haiku's own integration catalogue (`haiku._src.integration.descriptors`) supplies most layers;
the entries below it cover what that catalogue lacks (ResNets, transforms, naming corner cases).
"""

from __future__ import annotations

import dataclasses
import types
from collections.abc import Callable, Mapping
from typing import Any

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from haiku._src.integration import descriptors

import hk2nnx
from hk2nnx.program.model import Program, TensorSpec

F32 = "float32"


@dataclasses.dataclass(frozen=True, eq=False)
class CatalogueEntry:
    """One construct: a Haiku forward function and the inputs it is traced and run with."""

    id: str
    forward: Callable[..., Any]
    specs: tuple[TensorSpec, ...]
    kwargs: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    notes: str = ""
    tags: frozenset[str] = frozenset()
    int_range: int = 4

    def transformed(self) -> hk.TransformedWithState:
        return hk.transform_with_state(self.forward)

    def inputs(self, seed: int = 0) -> tuple[np.ndarray, ...]:
        rng = np.random.default_rng(seed)
        out = []
        for spec in self.specs:
            if np.issubdtype(np.dtype(spec.dtype) if spec.dtype != "bfloat16" else np.float32,
                             np.integer):
                out.append(rng.integers(0, self.int_range, spec.shape).astype(spec.dtype))
            else:
                out.append(np.asarray(jnp.asarray(rng.standard_normal(spec.shape),
                                                  dtype=spec.dtype)))
        return tuple(out)

    def init(self, seed: int = 0) -> tuple[dict, dict]:
        return self.transformed().init(jax.random.key(seed), *self.inputs(seed), **self.kwargs)

    def apply(self, params, state, *inputs, seed: int = 0, **overrides):
        kwargs = {**self.kwargs, **overrides}
        return self.transformed().apply(params, state, jax.random.key(seed), *inputs, **kwargs)

    def trace(self) -> Program:
        key = (self.id, self.specs)
        if key not in _TRACES:
            _TRACES[key] = hk2nnx.trace(self.transformed(), *self.specs, **self.kwargs)
        return _TRACES[key]

    def astype(self, dtype: str) -> CatalogueEntry:
        specs = tuple(
            TensorSpec(s.shape, dtype) if s.dtype.startswith(("float", "bfloat")) else s
            for s in self.specs
        )
        return dataclasses.replace(self, id=f"{self.id}@{dtype}", specs=specs)


_TRACES: dict[tuple, Program] = {}


def _specs(*texts: str) -> tuple[TensorSpec, ...]:
    return tuple(TensorSpec.parse(t) for t in texts)


# --- Haiku's integration catalogue -------------------------------------------------------------

# RNN_CORES need a state argument; RECURRENT_MODULES wraps each of them in an unroller instead.
_SKIPPED_LISTS = {"RNN_CORES"}


def _descriptor_lists() -> dict[str, tuple]:
    out = {}
    for name, value in vars(descriptors).items():
        if name.isupper() and name not in _SKIPPED_LISTS and isinstance(value, (tuple, list)) \
                and value and all(isinstance(d, descriptors.ModuleDescriptor) for d in value):
            out[name] = tuple(value)
    return out


def _descriptor_forward(create: Callable[[], Any]) -> Callable[..., Any]:
    def forward(x):
        return create()(x)

    return forward


def _is_bare(create: Callable[[], Any]) -> bool:
    """True when the descriptor's module is applied to the input directly, with no wrapper."""
    module = hk.transform(lambda: create()).apply({}, None)
    return not isinstance(module, descriptors.Wrapped)


def _from_descriptors() -> list[CatalogueEntry]:
    found: dict[str, tuple[descriptors.ModuleDescriptor, set[str]]] = {}
    for list_name, descs in _descriptor_lists().items():
        for desc in descs:
            key = descriptors.to_file_name(desc)
            found.setdefault(key, (desc, set()))[1].add(f"descriptors.{list_name}")
    entries = []
    for key, (desc, lists) in found.items():
        spec = TensorSpec(tuple(desc.shape), np.dtype(desc.dtype).name)
        tags = set(lists)
        if "descriptors.STATEFUL_MODULES" in lists:
            tags.add("stateful")
        if _is_bare(desc.create):
            tags.add("bare")
        if key == "nets.ResNet":
            tags.add("slow")
        entries.append(CatalogueEntry(
            id=key, forward=_descriptor_forward(desc.create), specs=(spec,), tags=frozenset(tags),
            int_range=6, notes=f"haiku integration descriptor {desc.name!r}",
        ))
    return entries


# --- Constructs Haiku's catalogue lacks --------------------------------------------------------


class Block(hk.Module):
    """A residual Linear block, the unit that layer_stack repeats."""

    def __call__(self, x):
        return x + jax.nn.relu(hk.Linear(x.shape[-1])(x))


class Scoped(hk.Module):
    """Submodules with one name built in __init__, in __call__ and in another method."""

    def __init__(self, name=None):
        super().__init__(name=name)
        self.b = hk.Linear(3, name="b")  # a/~/b

    def encode(self, x):
        return hk.Linear(3, name="b")(x)  # a/~encode/b

    def __call__(self, x):
        return hk.Linear(3, name="b")(self.b(x) + self.encode(x))  # a/b


class Counter(hk.Module):
    """State read and written each call, plus one leaf that is only ever set."""

    def __call__(self, x):
        count = hk.get_state("count", [], jnp.int32, init=jnp.zeros)
        hk.set_state("count", count + 1)
        hk.set_state("last_mean", jnp.mean(x))
        return x * count.astype(x.dtype)


def _resnet(cls, **kw):
    def forward(x, is_training):
        return cls(num_classes=10, **kw)(x, is_training=is_training)

    return forward


def _mobilenet(x, is_training):
    return hk.nets.MobileNetV1(num_classes=10, channels=(8, 16, 16), strides=(1, 2, 2))(
        x, is_training=is_training)


def _vq(x, is_training):
    return hk.nets.VectorQuantizer(4, 6, 0.25)(x, is_training=is_training)["quantize"]


def _vq_ema(x, is_training):
    return hk.nets.VectorQuantizerEMA(4, 6, 0.25, 0.9)(x, is_training=is_training)["quantize"]


def _layer_stack(x):
    return hk.experimental.layer_stack(3)(lambda y: Block()(y))(x)


def _layer_stack_nested(x):
    inner = hk.experimental.layer_stack(3, name="inner")(lambda y: Block()(y))
    return hk.experimental.layer_stack(2, name="outer")(inner)(x)


def _layer_stack_lstm(x):
    def layer(y):
        out, _ = hk.LSTM(y.shape[-1])(y, hk.LSTMState(y, y))
        return out

    return hk.experimental.layer_stack(2)(layer)(x)


def _scan(xs):
    core = hk.VanillaRNN(4)

    def step(h, x):
        out, h = core(x, h)
        return h, out

    _, ys = hk.scan(step, core.initial_state(xs.shape[1]), xs)
    return ys


def _vmap(x):
    linear = hk.Linear(4)
    return hk.vmap(linear, split_rng=False)(x)


def _remat(x):
    return hk.remat(hk.nets.MLP([4, 3]))(x)


def _lift(x):
    inner = hk.transform(lambda y: hk.Linear(3)(y))
    params = hk.lift(inner.init, name="inner")(hk.maybe_next_rng_key(), x)
    return inner.apply(params, None, x)


def _scopes(x):
    return Scoped(name="a")(x)


def _named(x):
    x = hk.Linear(4, name="encoder")(x)
    x = hk.nets.MLP([4, 4], name="trunk")(x)
    return Block(name="custom")(x)


def _numbered(x):
    return hk.Linear(3)(hk.Linear(3)(hk.Linear(3)(x)))


def _raw_parameters(x):
    w = hk.get_parameter("weight matrix", [x.shape[-1], 2], x.dtype,
                         init=hk.initializers.RandomNormal())
    b = hk.get_parameter("class", [2], x.dtype, init=jnp.ones)
    return x @ w + b


def _counter(x):
    return Counter()(x)


def _ema(x):
    return hk.ExponentialMovingAverage(0.9)(x)


def _dropout(x, is_training):
    x = hk.Linear(4)(x)
    return hk.dropout(hk.next_rng_key(), 0.5, x) if is_training else x


def _embed(ids):
    return hk.Linear(3)(hk.Embed(10, 4)(ids))


def _batch_norm(x, is_training):
    return hk.BatchNorm(True, True, 0.9)(x, is_training=is_training)


def _mha(q, k, v):
    return hk.MultiHeadAttention(num_heads=2, key_size=4, w_init=hk.initializers.VarianceScaling(),
                                 value_size=3, model_size=5)(q, k, v)


def _mha_kv(q, kv):
    return hk.MultiHeadAttention(num_heads=2, key_size=3,
                                 w_init=hk.initializers.VarianceScaling())(q, kv, kv)


def _unroll(make_core):
    def forward(xs):
        core = make_core()
        outs, _ = hk.dynamic_unroll(core, xs, core.initial_state(xs.shape[1]))
        return outs

    return forward


def _deep_rnn():
    return hk.DeepRNN([hk.LSTM(4), jax.nn.relu, hk.GRU(3), hk.VanillaRNN(2)])


def _lstm_cell(x, h, c):
    return hk.LSTM(h.shape[-1])(x, hk.LSTMState(h, c))


def _vanilla_cell(x, h):
    return hk.VanillaRNN(h.shape[-1])(x, h)


def _spectral_linear(x):
    w = hk.get_parameter("w", [x.shape[-1], 3], x.dtype, init=hk.initializers.RandomNormal())
    return x @ hk.SpectralNorm()(w)


def _params_trees(x):
    tree = {"lin/~/sub": {"w": x, "b": x[0]}}
    averaged = hk.EMAParamsTree(0.9)(tree)
    normed = hk.SNParamsTree(ignore_regex=".*b$")(tree)
    return averaged["lin/~/sub"]["w"] + normed["lin/~/sub"]["w"]


def _conv_nchw(x):
    return hk.Conv2D(4, 3, stride=2, data_format="NCHW")(x)


def _layer_norm_2axes(x):
    return hk.LayerNorm(axis=(-2, -1), create_scale=True, create_offset=True,
                        param_axis=(-2, -1))(x)


def _own(id_, forward, specs, *, tags=(), notes="", int_range=4, **kwargs):
    return CatalogueEntry(
        id=id_, forward=forward, specs=_specs(*specs), kwargs=types.MappingProxyType(kwargs),
        notes=notes, tags=frozenset(("own", *tags)), int_range=int_range,
    )


_OWN = (
    _own("resnet18", _resnet(hk.nets.ResNet18), ["f32[2,32,32,3]"], is_training=True,
         tags=("stateful",), notes="hk.nets.ResNet18, 10 classes"),
    _own("resnet50", _resnet(hk.nets.ResNet50), ["f32[2,32,32,3]"], is_training=True,
         tags=("stateful", "slow"), notes="hk.nets.ResNet50, 10 classes"),
    _own("mobilenet_v1", _mobilenet, ["f32[2,16,16,3]"], is_training=True, tags=("stateful",),
         notes="hk.nets.MobileNetV1, narrow"),
    _own("vector_quantizer", _vq, ["f32[2,3,4]"], is_training=True),
    _own("vector_quantizer_ema", _vq_ema, ["f32[2,3,4]"], is_training=True, tags=("stateful",)),
    _own("layer_stack", _layer_stack, ["f32[2,4]"], notes="hk.experimental.layer_stack(3) of Block"),
    _own("layer_stack_nested", _layer_stack_nested, ["f32[2,4]"],
         notes="layer_stack(2) of layer_stack(3): two stacked axes"),
    _own("layer_stack_lstm", _layer_stack_lstm, ["f32[2,4]"],
         notes="layer_stack(2) of an LSTM step: fused gates with a stacked axis"),
    _own("scan", _scan, ["f32[3,2,5]"], notes="hk.scan over a VanillaRNN step"),
    _own("vmap", _vmap, ["f32[3,2,5]"], notes="hk.vmap(split_rng=False), shared weights"),
    _own("remat", _remat, ["f32[2,5]"], notes="hk.remat around an MLP"),
    _own("lift", _lift, ["f32[2,5]"], tags=("rng",), notes="hk.lift of an inner transform"),
    _own("scopes", _scopes, ["f32[2,3]"], notes="a/~/b, a/b and a/~encode/b"),
    _own("named", _named, ["f32[2,3]"], notes="name= overrides on layers, nets and modules"),
    _own("numbered", _numbered, ["f32[2,3]"], notes="linear, linear_1, linear_2"),
    _own("raw_parameters", _raw_parameters, ["f32[2,3]"],
         notes="top-level hk.get_parameter with non-identifier names"),
    _own("counter", _counter, ["f32[2,3]"], tags=("stateful",),
         notes="get_state/set_state counter and a set-only state leaf"),
    _own("ema", _ema, ["f32[2,3]"], tags=("stateful", "bare"), notes="ExponentialMovingAverage"),
    _own("dropout", _dropout, ["f32[2,3]"], is_training=True, tags=("rng",)),
    _own("embed", _embed, ["i32[2,5]"], int_range=10, notes="Embed on integer ids, then Linear"),
    _own("batch_norm", _batch_norm, ["f32[4,3,3,2]"], is_training=True,
         tags=("stateful", "bare"),
         notes="BatchNorm; Haiku cannot init in eval mode, apply with is_training=False"),
    _own("mha_value_size", _mha, ["f32[2,5,6]", "f32[2,7,4]", "f32[2,7,3]"], tags=("bare",),
         notes="MultiHeadAttention with value_size != key_size and model_size set"),
    _own("mha_kv", _mha_kv, ["f32[2,5,6]", "f32[2,7,4]"], tags=("bare",),
         notes="MultiHeadAttention, separate query and key/value inputs"),
    _own("lstm_unroll", _unroll(lambda: hk.LSTM(4)), ["f32[3,2,5]"],
         notes="hk.LSTM through hk.dynamic_unroll"),
    _own("gru_unroll", _unroll(lambda: hk.GRU(4)), ["f32[3,2,5]"],
         notes="hk.GRU through hk.dynamic_unroll"),
    _own("vanilla_rnn_unroll", _unroll(lambda: hk.VanillaRNN(4)), ["f32[3,2,5]"],
         notes="hk.VanillaRNN through hk.dynamic_unroll"),
    _own("deep_rnn_unroll", _unroll(_deep_rnn), ["f32[3,2,5]"],
         notes="hk.DeepRNN([LSTM, relu, GRU, VanillaRNN]) through hk.dynamic_unroll"),
    _own("lstm_cell", _lstm_cell, ["f32[2,5]", "f32[2,4]", "f32[2,4]"], tags=("bare",),
         notes="one LSTM step on (x, hidden, cell)"),
    _own("vanilla_rnn_cell", _vanilla_cell, ["f32[2,5]", "f32[2,4]"], tags=("bare",),
         notes="one VanillaRNN step on (x, hidden)"),
    _own("spectral_norm_param", _spectral_linear, ["f32[2,4]"], tags=("stateful",),
         notes="SpectralNorm applied to a raw parameter"),
    _own("params_trees", _params_trees, ["f32[3,4]"], tags=("stateful",),
         notes="EMAParamsTree and SNParamsTree: state named after tree paths"),
    _own("conv2d_nchw", _conv_nchw, ["f32[2,3,6,6]"], tags=("bare",),
         notes="Conv2D with data_format=NCHW: bias kept as (C, 1, 1)"),
    _own("layer_norm_2axes", _layer_norm_2axes, ["f32[2,3,4]"], tags=("bare",),
         notes="LayerNorm over two axes: scale (3, 4)"),
)

ENTRIES: tuple[CatalogueEntry, ...] = (*_from_descriptors(), *_OWN)
BY_ID: dict[str, CatalogueEntry] = {e.id: e for e in ENTRIES}

if len(BY_ID) != len(ENTRIES):
    raise RuntimeError("catalogue ids must be unique")
