"""Port round trips over the whole catalogue: Haiku -> flat NNX arrays -> Haiku.

With the residual the way back is bit-exact (values and dtypes); without it, the NNX side is a
fixed point and Haiku's eval outputs are unchanged.
"""

import jax
import numpy as np
import pytest
from catalogue import BY_ID, ENTRIES

from hk2nnx.mappings.layers import FAITHFUL, targets
from hk2nnx.port.api import from_nnx_arrays, to_nnx_arrays

LOW_PRECISION = ["Linear", "batch_norm", "lstm_cell", "vanilla_rnn_cell", "mha_kv", "layer_stack",
                 "Conv2DTranspose", "layer_norm_2axes"]
LOSSY = {"batch_norm", "vanilla_rnn_cell", "deep_rnn_unroll"}  # NNX drops or merges leaves
EVAL_EQUAL = ["batch_norm", "vanilla_rnn_cell", "deep_rnn_unroll", "nets.VectorQuantizerEMA",
              "layer_stack"]


def random_trees(program, seed=0):
    """Distinct random values in every leaf, in each leaf's own dtype."""
    rng = np.random.default_rng(seed)
    trees = {"params": {}, "state": {}}
    for v in program.variables:
        dtype = jax.numpy.dtype(v.spec.dtype)
        if np.issubdtype(dtype, np.integer):
            value = rng.integers(0, 1000, v.spec.shape).astype(dtype)
        else:
            value = rng.standard_normal(v.spec.shape, dtype=np.float32).astype(dtype)
        trees[v.collection].setdefault(v.module, {})[v.name] = value
    return trees["params"], trees["state"]


def assert_trees_identical(actual, expected):
    assert {m: set(leaves) for m, leaves in actual.items()} == \
        {m: set(leaves) for m, leaves in expected.items()}
    for module, leaves in expected.items():
        for name, want in leaves.items():
            got = actual[module][name]
            assert np.asarray(got).dtype == np.asarray(want).dtype, (module, name)
            assert np.array_equal(np.asarray(got), np.asarray(want)), (module, name)


def _check_round_trip(program, params, state):
    flat, residual, ledger = to_nnx_arrays(params, state, program)
    assert ledger.ok
    targets = {t for v in program.variables for t in v.nnx_path.split(",")}
    assert set(flat) == targets
    back_params, back_state = from_nnx_arrays(flat, program, residual)
    assert_trees_identical(back_params, params)
    assert_trees_identical(back_state, state)

    lossy_params, lossy_state = from_nnx_arrays(flat, program)
    again, _, _ = to_nnx_arrays(lossy_params, lossy_state, program)
    assert set(again) == set(flat)
    for path, value in flat.items():
        assert np.array_equal(again[path], value) and again[path].dtype == value.dtype, path
    kept = {(m, n) for m, leaves in params.items() for n in leaves}
    for module, leaves in {**params, **state}.items():
        for name, value in leaves.items():
            if (module, name) not in residual:
                source = lossy_params if (module, name) in kept else lossy_state
                assert np.array_equal(source[module][name], value), (module, name)
    return flat, residual


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_round_trip_is_exact_with_residual(entry):
    program = entry.trace()
    _check_round_trip(program, *random_trees(program))


@pytest.mark.parametrize("entry_id", ["Linear", "batch_norm", "lstm_cell", "mha_kv", "scopes"])
def test_round_trip_of_haiku_initialised_weights(entry_id):
    entry = BY_ID[entry_id]
    _check_round_trip(entry.trace(), *entry.init(seed=3))


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize("entry_id", LOW_PRECISION)
def test_round_trip_keeps_low_precision_dtypes(entry_id, dtype):
    entry = BY_ID[entry_id].astype(dtype)
    program = entry.trace()
    floats = [v for v in program.variables if not v.spec.dtype.startswith("int")]
    assert floats and all(v.spec.dtype == dtype for v in floats)
    flat, _ = _check_round_trip(program, *random_trees(program, seed=5))
    assert any(np.asarray(v).dtype == np.dtype(dtype) for v in flat.values())


def _jitter(tree, seed=7):
    rng = np.random.default_rng(seed)
    return jax.tree.map(
        lambda x: (x + rng.uniform(-0.1, 0.1, x.shape)).astype(x.dtype)
        if np.issubdtype(x.dtype, np.floating) else x, tree)


@pytest.mark.parametrize("entry_id", EVAL_EQUAL)
def test_round_trip_without_residual_keeps_eval_outputs(entry_id):
    entry = BY_ID[entry_id]
    params, state = entry.init(seed=2)
    params = _jitter(params)  # Haiku's zero biases would make merged biases trivially exact
    inputs = entry.inputs(seed=4)
    apply = jax.jit(entry.transformed().apply, static_argnames=tuple(entry.kwargs))
    if "is_training" in entry.kwargs:  # move the statistics away from their initial values
        _, state = apply(params, state, jax.random.key(0), *inputs, **entry.kwargs)
    eval_kwargs = {**entry.kwargs, **({"is_training": False} if "is_training" in entry.kwargs
                                      else {})}
    flat, residual, _ = to_nnx_arrays(params, state, entry.trace())
    assert bool(residual) == (entry_id in LOSSY)
    back_params, back_state = from_nnx_arrays(flat, entry.trace())
    before, _ = apply(params, state, jax.random.key(1), *inputs, **eval_kwargs)
    after, _ = apply(back_params, back_state, jax.random.key(1), *inputs, **eval_kwargs)
    for a, b in zip(jax.tree.leaves(after), jax.tree.leaves(before)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.id for e in ENTRIES])
def test_faithful_targets_lose_nothing(entry):
    """With the faithful compat targets every Haiku leaf survives: no residual is needed."""
    program = entry.trace()
    params, state = random_trees(program, seed=9)
    with targets(FAITHFUL):
        flat, residual, ledger = to_nnx_arrays(params, state, program)
        back_params, back_state = from_nnx_arrays(flat, program)
    assert ledger.ok and not residual
    assert_trees_identical(back_params, params)
    assert_trees_identical(back_state, state)
