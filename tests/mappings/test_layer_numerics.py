"""Ported weights give the NNX layer Haiku's outputs: proof that each layout op is right.

For every catalogue entry that applies one table layer with a real NNX target to its inputs,
random weights go through `port_to_nnx` into the NNX layer, and both are run in eval mode.
"""

import jax
import numpy as np
import pytest
from catalogue import ENTRIES
from flax import nnx
from layer_probes import build, call, layer_instances

from hk2nnx.port.api import nnx_variables, port_to_nnx


class Holder(nnx.Module):
    """The NNX model when the Haiku program has more than one top-level module."""

    def __init__(self, name: str, layer: nnx.Module):
        setattr(self, name, layer)


def _single_layer(entry):
    """The one top-level, real-NNX layer instance of a bare entry, or None."""
    program = entry.trace()
    tops = [i for i in layer_instances(program) if program.module(i.path).parent is None]
    if "bare" not in entry.tags or len(tops) != 1 or tops[0].mapping.is_compat:
        return None
    return tops[0] if build(tops[0], abstract=True) is not None else None


CASES = [e for e in ENTRIES if _single_layer(e) is not None]


def random_weights(program, seed=0):
    """Params in [-1, 1); float state in [0.5, 1.5) so variances stay positive; counters > 0."""
    rng = np.random.default_rng(seed)
    trees = {"params": {}, "state": {}}
    for v in program.variables:
        if np.issubdtype(np.dtype(v.spec.dtype), np.integer):
            value = rng.integers(1, 100, v.spec.shape).astype(v.spec.dtype)
        elif v.collection == "params":
            value = rng.uniform(-1, 1, v.spec.shape).astype(v.spec.dtype)
        else:
            value = rng.uniform(0.5, 1.5, v.spec.shape).astype(v.spec.dtype)
        trees[v.collection].setdefault(v.module, {})[v.name] = value
    return trees["params"], trees["state"]


def _model(program, inst):
    layer = build(inst)
    if program.root == inst.path:
        return layer, layer
    return layer, Holder(program.module(inst.path).nnx_path, layer)


@pytest.mark.parametrize("entry", CASES, ids=[e.id for e in CASES])
def test_port_without_program_finds_the_same_rules(entry):
    """Without a trace the port picks rules by NNX class; it must fill the same values."""
    program = entry.trace()
    inst = _single_layer(entry)
    params, state = random_weights(program, seed=3)
    with_trace, without = _model(program, inst)[1], _model(program, inst)[1]
    port_to_nnx(params, state, with_trace, program=program)
    port_to_nnx(params, state, without)
    expected = {p: np.asarray(v.get_value()) for p, v in nnx_variables(with_trace).items()}
    actual = {p: np.asarray(v.get_value()) for p, v in nnx_variables(without).items()}
    assert expected.keys() == actual.keys()
    for path, value in expected.items():
        assert np.array_equal(actual[path], value), path


def test_cases_cover_every_real_target():
    covered = {_single_layer(e).mapping.haiku for e in CASES}
    from hk2nnx.mappings.layers import LAYERS

    assert covered == {m.haiku for m in LAYERS if not m.is_compat}


@pytest.mark.parametrize("entry", CASES, ids=[e.id for e in CASES])
def test_nnx_layer_reproduces_haiku_eval_outputs(entry):
    program = entry.trace()
    inst = _single_layer(entry)
    params, state = random_weights(program)
    inputs = entry.inputs(seed=1)
    eval_mode = {"is_training": False} if "is_training" in entry.kwargs else {}
    apply = jax.jit(entry.transformed().apply, static_argnames=tuple(entry.kwargs))
    expected, _ = apply(params, state, None, *inputs, **{**entry.kwargs, **eval_mode})

    layer, model = _model(program, inst)
    port_to_nnx(params, state, model, program=program)
    model.eval()
    actual = nnx.jit(lambda layer, *xs: call(inst, layer, xs))(layer, *inputs)

    expected = jax.tree.leaves(expected)
    assert len(actual) == len(expected)
    for a, e in zip(actual, expected):
        a, e = np.asarray(a), np.asarray(e)
        assert a.shape == e.shape and a.dtype == e.dtype
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-5)
