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

import catalogue_constructs as c
import hk2nnx
from hk2nnx.program.model import Program, TensorSpec


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
            if jnp.issubdtype(jnp.dtype(spec.dtype), jnp.integer):
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


# --- Constructs Haiku's catalogue lacks (forward functions in catalogue_constructs) ------


def _own(id_, forward, specs, *, tags=(), notes="", int_range=4, **kwargs):
    return CatalogueEntry(
        id=id_, forward=forward, specs=_specs(*specs), kwargs=types.MappingProxyType(kwargs),
        notes=notes, tags=frozenset(("own", *tags)), int_range=int_range,
    )


_OWN = (
    _own("resnet18", c.resnet(hk.nets.ResNet18), ["f32[2,32,32,3]"], is_training=True,
         tags=("stateful",), notes="hk.nets.ResNet18, 10 classes"),
    _own("resnet50", c.resnet(hk.nets.ResNet50), ["f32[2,32,32,3]"], is_training=True,
         tags=("stateful", "slow"), notes="hk.nets.ResNet50, 10 classes"),
    _own("mobilenet_v1", c.mobilenet, ["f32[2,16,16,3]"], is_training=True, tags=("stateful",),
         notes="hk.nets.MobileNetV1, narrow"),
    _own("vector_quantizer", c.vq, ["f32[2,3,4]"], is_training=True),
    _own("vector_quantizer_ema", c.vq_ema, ["f32[2,3,4]"], is_training=True, tags=("stateful",)),
    _own("layer_stack", c.layer_stack, ["f32[2,4]"],
         notes="hk.experimental.layer_stack(3) of Block"),
    _own("layer_stack_nested", c.layer_stack_nested, ["f32[2,4]"],
         notes="layer_stack(2) of layer_stack(3): two stacked axes"),
    _own("layer_stack_lstm", c.layer_stack_lstm, ["f32[2,4]"],
         notes="layer_stack(2) of an LSTM step: fused gates with a stacked axis"),
    _own("scan", c.scan, ["f32[3,2,5]"], notes="hk.scan over a VanillaRNN step"),
    _own("vmap", c.vmap, ["f32[3,2,5]"], notes="hk.vmap(split_rng=False), shared weights"),
    _own("remat", c.remat, ["f32[2,5]"], notes="hk.remat around an MLP"),
    _own("lift", c.lift, ["f32[2,5]"], tags=("rng",), notes="hk.lift of an inner transform"),
    _own("scopes", c.scopes, ["f32[2,3]"], notes="a/~/b, a/b and a/~encode/b"),
    _own("named", c.named, ["f32[2,3]"], notes="name= overrides on layers, nets and modules"),
    _own("numbered", c.numbered, ["f32[2,3]"], notes="linear, linear_1, linear_2"),
    _own("raw_parameters", c.raw_parameters, ["f32[2,3]"],
         notes="top-level hk.get_parameter with non-identifier names"),
    _own("counter", c.counter, ["f32[2,3]"], tags=("stateful",),
         notes="get_state/set_state counter and a set-only state leaf"),
    _own("ema", c.ema, ["f32[2,3]"], tags=("stateful", "bare"), notes="ExponentialMovingAverage"),
    _own("dropout", c.dropout, ["f32[2,3]"], is_training=True, tags=("rng",)),
    _own("embed", c.embed, ["i32[2,5]"], int_range=10, notes="Embed on integer ids, then Linear"),
    _own("batch_norm", c.batch_norm, ["f32[4,3,3,2]"], is_training=True,
         tags=("stateful", "bare"),
         notes="BatchNorm; Haiku cannot init in eval mode, apply with is_training=False"),
    _own("mha_value_size", c.mha, ["f32[2,5,6]", "f32[2,7,4]", "f32[2,7,3]"], tags=("bare",),
         notes="MultiHeadAttention with value_size != key_size and model_size set"),
    _own("mha_kv", c.mha_kv, ["f32[2,5,6]", "f32[2,7,4]"], tags=("bare",),
         notes="MultiHeadAttention, separate query and key/value inputs"),
    _own("lstm_unroll", c.unroll(lambda: hk.LSTM(4)), ["f32[3,2,5]"],
         notes="hk.LSTM through hk.dynamic_unroll"),
    _own("gru_unroll", c.unroll(lambda: hk.GRU(4)), ["f32[3,2,5]"],
         notes="hk.GRU through hk.dynamic_unroll"),
    _own("vanilla_rnn_unroll", c.unroll(lambda: hk.VanillaRNN(4)), ["f32[3,2,5]"],
         notes="hk.VanillaRNN through hk.dynamic_unroll"),
    _own("deep_rnn_unroll", c.unroll(c.deep_rnn), ["f32[3,2,5]"],
         notes="hk.DeepRNN([LSTM, relu, GRU, VanillaRNN]) through hk.dynamic_unroll"),
    _own("lstm_cell", c.lstm_cell, ["f32[2,5]", "f32[2,4]", "f32[2,4]"], tags=("bare",),
         notes="one LSTM step on (x, hidden, cell)"),
    _own("vanilla_rnn_cell", c.vanilla_cell, ["f32[2,5]", "f32[2,4]"], tags=("bare",),
         notes="one VanillaRNN step on (x, hidden)"),
    _own("spectral_norm_param", c.spectral_linear, ["f32[2,4]"], tags=("stateful",),
         notes="SpectralNorm applied to a raw parameter"),
    _own("params_trees", c.params_trees, ["f32[3,4]"], tags=("stateful",),
         notes="EMAParamsTree and SNParamsTree: state named after tree paths"),
    _own("subclassed", c.subclassed, ["f32[2,3,6]"],
         notes="MultiHeadAttention subclass with its own signature; a module taking *args"),
    _own("rng_alias", c.noisy, ["f32[2,3]"], tags=("rng",),
         notes="RNG drawn through a pre-imported next_rng_key inside a module"),
    _own("conv2d_nchw", c.conv_nchw, ["f32[2,3,6,6]"], tags=("bare",),
         notes="Conv2D with data_format=NCHW: bias kept as (C, 1, 1)"),
    _own("layer_norm_2axes", c.layer_norm_2axes, ["f32[2,3,4]"], tags=("bare",),
         notes="LayerNorm over two axes: scale (3, 4)"),
)

ENTRIES: tuple[CatalogueEntry, ...] = (*_from_descriptors(), *_OWN)
BY_ID: dict[str, CatalogueEntry] = {e.id: e for e in ENTRIES}

if len(BY_ID) != len(ENTRIES):
    raise RuntimeError("catalogue ids must be unique")
