"""Compat layers built from a trace alone (Haiku's literal arguments + `eager_arguments`)
have exactly the leaves of the hand-built models the other compat tests verify."""

import inspect

import jax
import pytest
from compat_cases import CASES
from flax import nnx

import hk2nnx
from hk2nnx import compat
from hk2nnx.mappings import layers as table
from hk2nnx.compat.eager import EAGER, eager_arguments
from hk2nnx.mappings.layers import FAITHFUL, for_classes, targets
from hk2nnx.port.api import nnx_variables
from hk2nnx.port.plan import literal_attrs


def _compat_layers(program):
    """(record, compat class name) of each compat layer not owned by another compat layer."""
    records = {m.path: m for m in program.modules}
    out = []
    for record in program.modules:
        mapping = for_classes(record.bases, FAITHFUL)
        parent = records.get(record.parent) if record.parent else None
        owner = for_classes(parent.bases, FAITHFUL) if parent is not None else None
        owned = owner is not None and owner.is_compat
        if mapping is not None and mapping.is_compat and not owned:
            out.append((record, mapping.nnx_class_name))
    return out


def _build(name, program, path):
    cls = getattr(compat, name)
    accepted = inspect.signature(cls.__init__).parameters
    kwargs = {k: v for k, v in literal_attrs(program, path).items() if k in accepted}
    kwargs.update(eager_arguments(name, program, path))
    if "rngs" in accepted:
        kwargs["rngs"] = nnx.Rngs(0)
    if name == "MultiHeadAttention" and kwargs.get("w_init_scale") is None:
        kwargs["w_init"] = jax.nn.initializers.lecun_normal()  # Haiku's is not a literal
    return cls(**kwargs)


def _leaves(module):
    return {p: (tuple(v.get_value().shape), type(v)) for p, v in nnx_variables(module).items()}


def _sub(module, nnx_path):
    for part in filter(None, nnx_path.split(".")):
        module = getattr(module, part)
    return module


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_trace_gives_every_eager_argument(case):
    flags = {"is_training": True} if case.takes_flag else {}
    with targets(FAITHFUL):
        program = hk2nnx.trace(case.forward, *case.tensor_specs, **flags)
    layers = _compat_layers(program)
    assert layers
    model = nnx.eval_shape(lambda: case.model(nnx.Rngs(0)))
    for record, name in layers:
        built = nnx.eval_shape(lambda: _build(name, program, record.path))
        assert _leaves(built) == _leaves(_sub(model, record.nnx_path)), record.path


def test_every_compat_layer_class_has_eager_rules():
    layer_classes = {m.nnx_class_name for m in table.LAYERS if m.is_compat}
    layer_classes |= {m.faithful.nnx_class_name for m in table.LAYERS
                      if m.faithful}
    assert layer_classes == set(EAGER)
