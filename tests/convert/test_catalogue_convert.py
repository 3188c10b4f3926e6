"""Every catalogue entry through convert (faithful mode), then port and verify against Haiku.

For each entry of `tests/catalogue.py`, `catalogue_sources.source` writes a Haiku file building
it; the file is converted, the result run, Haiku's initial weights ported into it, and
`hk2nnx.verify` compares outputs and gradients (and state, where the entry has state, after
three SGD training steps on both sides). The port must round-trip bit-exactly. Entries the
converter cannot convert faithfully are listed in `REFUSED` with the reason: the test asserts
they are refused with a `# TODO(hk2nnx)` marker, never converted approximately. Heavy entries
run only with HK2NNX_FULL_CATALOGUE=1.
"""

from __future__ import annotations

import contextlib
import os

import catalogue
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from catalogue_sources import source
from fixture_runner import compat_importable, run_module
from flax import nnx

import hk2nnx
from hk2nnx.convert import convert_source
from hk2nnx.mappings.layers import FAITHFUL, targets
from hk2nnx.verify import _api as verify_api
from hk2nnx.verify._loss import Projection

FULL = os.environ.get("HK2NNX_FULL_CATALOGUE") == "1"
_NO_RULE = "no rule converts it yet"

# id -> why the converter refuses it (each must come back with a TODO, not a conversion).
REFUSED: dict[str, str] = {
    "Sequential": "an empty hk.Sequential has no layers to number; nothing to build",
    "conv2d_nchw": "channels-first data_format has no NNX convolution",
    "layer_norm_2axes": "NNX builds LayerNorm parameters on one axis (num_features)",
    "layer_stack_nested": "a layer_stack of a layer_stack: only with_per_layer_inputs converts",
    "layer_stack_lstm": "a layer built inside a function passed to layer_stack",
    "scan": "hk.scan of a local function closing over a core, not a module of the file",
    "lift": "hk.lift of an inner hk.transform: no rule",
    "counter": "hk.set_state of a leaf never read by get_state: shape and dtype unknown",
    "params_trees": f"hk.EMAParamsTree / hk.SNParamsTree: {_NO_RULE}",
    "subclassed": "a module whose __init__ takes *args cannot gain the sizes NNX needs",
}
# id -> why a faithful conversion still cannot equal Haiku's numbers (it must convert and run).
RANDOM: dict[str, str] = {
    "rng_alias": "draws noise with its own key: NNX's rng streams are not Haiku's key sequence",
}
# Run by default: one entry per construct family (and every refusal, which only converts);
# the rest of the catalogue with HK2NNX_FULL_CATALOGUE=1.
QUICK = frozenset({
    "Linear", "Conv2D", "Conv1DTranspose", "DepthwiseConv1D", "SeparableDepthwiseConv2D",
    "BatchNorm", "Bias", "Flatten", "InstanceNorm", "GroupNorm", "LayerNorm", "RMSNorm",
    "SpectralNorm", "Embed", "mha_kv", "lstm_cell", "vanilla_rnn_cell", "gru_unroll",
    "Recurrent-LSTM-static_unroll", "Recurrent-ResetCore-dynamic_unroll", "deep_rnn_unroll",
    "vector_quantizer_ema", "ema", "dropout", "rng_alias",
})
_TOL = 1e-4


def _params():
    for entry in catalogue.ENTRIES:
        quick = entry.id in QUICK or entry.id in REFUSED
        marks = [pytest.mark.skipif(not (quick or FULL), reason="HK2NNX_FULL_CATALOGUE=1")]
        yield pytest.param(entry, id=entry.id, marks=marks)


@pytest.mark.parametrize("entry", list(_params()))
def test_catalogue_entry_converts_faithfully_or_is_refused(entry, tmp_path):
    text = source(entry)
    result = convert_source(text, filename=f"{entry.id}.py", mode=FAITHFUL)
    if entry.id in REFUSED:
        assert "# TODO(hk2nnx)" in result.code, (
            f"{entry.id} converted; move it out of REFUSED ({REFUSED[entry.id]})")
        return
    assert "TODO(hk2nnx)" not in result.code, result.code
    definitions = text[:text.index("params, state = net.init(")]  # no Haiku init needed
    with compat_importable(result.compat, tmp_path), targets(FAITHFUL):
        original = run_module(definitions, f"original_{entry.id}")["net"]
        model = run_module(result.code, f"converted_{entry.id}")["net"]
        program = hk2nnx.trace(original, *entry.specs, **entry.kwargs)
        _same_leaves_as_catalogue(entry, program)
        report = hk2nnx.verify(original, model, *entry.specs, **entry.kwargs)
        if entry.id in RANDOM:
            assert all(r.kind != "output" or r.shape for r in report.rows)
            return
        assert report.passed, report.table()
        _port_round_trips(original, model, entry, program)
        if "stateful" in entry.tags:
            _three_training_steps_agree(original, model, entry)


def test_tables_name_catalogue_entries():
    for table in (REFUSED, RANDOM, QUICK):
        assert set(table) <= set(catalogue.BY_ID), set(table) - set(catalogue.BY_ID)
    assert not set(REFUSED) & (set(RANDOM) | QUICK)


def _same_leaves_as_catalogue(entry, program) -> None:
    """The generated Haiku file builds the entry's construct: the same leaf names and shapes."""
    ours = sorted((v.name, v.spec.shape, v.collection) for v in program.variables)
    theirs = sorted((v.name, v.spec.shape, v.collection) for v in entry.trace().variables)
    assert ours == theirs


def _port_round_trips(transformed, model, entry, program) -> None:
    params, state = transformed.init(jax.random.key(1), *entry.inputs(1), **entry.kwargs)
    result = hk2nnx.port_to_nnx(params, state, model, program=program)
    back_params, back_state = hk2nnx.port_to_haiku(model, program, result.residual)
    for original, back in ((params, back_params), (state, back_state)):
        assert jax.tree.structure(original) == jax.tree.structure(back)
        for a, b in zip(jax.tree.leaves(original), jax.tree.leaves(back)):
            np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _three_training_steps_agree(transformed, model, entry) -> None:
    """Three SGD steps on both sides; then parameters and state, ported back, agree."""
    with contextlib.ExitStack() as stack:
        run = verify_api._prepare(transformed, model, entry.specs, dict(entry.kwargs), None,
                                  False, 0, stack)
        run.jit = False  # three eager steps cost less than three compilations
        loss = Projection.for_outputs(run, jax.random.key(7))
        for _ in range(3):
            _, hk_state, hk_grads = run.haiku(loss)
            _, nnx_grads = run.nnx(loss)
            run.state = hk_state
            if hk_grads is not None:
                run.params = jax.tree.map(lambda p, g: p - 0.1 * g, run.params, hk_grads)
                weights = nnx.state(run.model, nnx.Param)
                nnx.update(run.model, jax.tree.map(lambda p, g: p - 0.1 * g, weights, nnx_grads))
        params, state = hk2nnx.port_to_haiku(run.model, run.program)
    for want, got in ((run.params, params), (run.state, state)):
        for path, a in jax.tree_util.tree_leaves_with_path(want):
            b = _at(got, path)
            assert jnp.allclose(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32),
                                atol=_TOL, rtol=_TOL), jax.tree_util.keystr(path)


def _at(tree, path):
    for key in path:
        tree = tree[key.key]
    return tree
