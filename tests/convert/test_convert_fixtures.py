"""Every convert fixture: expected output, no haiku left, runs, same numbers, idempotent."""

from __future__ import annotations

import ast

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from fixture_runner import all_fixtures, run_module
from flax import nnx

import hk2nnx
from hk2nnx.convert import convert_source
from hk2nnx.port.api import port_to_nnx, to_nnx_arrays

FIXTURES = all_fixtures()
IDS = [f.id for f in FIXTURES]


@pytest.fixture(scope="module", params=FIXTURES, ids=IDS)
def case(request):
    fixture = request.param
    return fixture, convert_source(fixture.source, filename=str(fixture.path))


def test_output_is_the_reviewed_expected_file(case):
    fixture, result = case
    assert result.code == fixture.expected, (
        f"regenerate after review: python tests/convert/fixture_runner.py {fixture.path}")


def test_no_haiku_import_left(case):
    _, result = case
    for node in ast.walk(ast.parse(result.code)):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "haiku" for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "haiku"
    assert "hk2nnx" not in result.code


def test_converting_again_changes_nothing(case):
    _, result = case
    again = convert_source(result.code)
    assert again.code == result.code and not again.changed


def test_converted_runs_and_matches_haiku_after_porting(case):
    fixture, result = case
    original = run_module(fixture.source, f"original_{fixture.path.stem}")
    converted = run_module(result.code, f"converted_{fixture.path.stem}")
    check = fixture.check
    for variant in [check] + [{**check, **extra} for extra in check.get("also", [])]:
        if variant:
            _compare(original, converted, variant)


def _compare(original: dict, converted: dict, check: dict) -> None:
    var = check.get("var", "model")
    transformed, model = original[var], converted[var]
    inputs = _inputs(check)
    static = check.get("haiku", {})
    init_static = check.get("init", static)
    params, state = _init(transformed, inputs, init_static)
    program = hk2nnx.trace(transformed, *inputs, **init_static)
    port_to_nnx(_merged(params, state), None, model, program=program)
    if check.get("mode"):
        getattr(model, check["mode"])()
    expected = _haiku_apply(transformed, params, state, inputs, static, check)
    method = check.get("apply", (0, "__call__"))[1]
    got = getattr(model, method)(*inputs, **check.get("nnx", {}))
    np.testing.assert_allclose(np.asarray(got), np.asarray(expected), rtol=1e-5, atol=1e-5)
    if check.get("grad", True) and not state:
        _compare_gradients(transformed, params, model, program, inputs, static, check)


def _merged(params: dict, state: dict) -> dict:
    """One tree per module path. port_to_nnx merges params and state with `{**p, **s}`, which
    drops the params of a module that also has state (e.g. `~` in a top-level function)."""
    out: dict = {}
    for tree in (params, state):
        for module, leaves in tree.items():
            out.setdefault(module, {}).update(leaves)
    return out


def _inputs(check: dict) -> list:
    specs = [hk2nnx.TensorSpec.parse(s) for s in check.get("inputs", [])]
    keys = jax.random.split(jax.random.key(42), max(len(specs), 1))
    return [jax.random.normal(k, s.shape, jnp.dtype(s.dtype)) for k, s in zip(keys, specs)]


def _init(transformed, inputs, static):
    out = transformed.init(jax.random.key(0), *inputs, **static)
    return out if isinstance(out, tuple) else (out, {})


def _apply_fn(transformed, check):
    index = check.get("apply", (None,))[0]
    return transformed.apply if index is None else transformed.apply[index]


def _haiku_apply(transformed, params, state, inputs, static, check):
    apply = _apply_fn(transformed, check)
    key = [jax.random.key(7)] if check.get("rng", True) else []
    with_state = isinstance(transformed, (hk.TransformedWithState, hk.MultiTransformedWithState))
    if with_state:
        return apply(params, state, *key, *inputs, **static)[0]
    return apply(params, *key, *inputs, **static)


def _compare_gradients(transformed, params, model, program, inputs, static, check):
    apply = _apply_fn(transformed, check)
    method = check.get("apply", (0, "__call__"))[1]
    key = [jax.random.key(7)] if check.get("rng", True) else []
    haiku_grads = jax.grad(lambda p: jnp.sum(apply(p, *key, *inputs, **static)))(params)
    expected, _, _ = to_nnx_arrays(haiku_grads, {}, program)
    grads = nnx.grad(lambda m: jnp.sum(getattr(m, method)(*inputs, **check.get("nnx", {}))))(
        model)
    got = {".".join(map(str, k)): v for k, v in nnx.to_flat_state(grads)}
    assert set(got) == set(expected)
    for path, value in expected.items():
        np.testing.assert_allclose(np.asarray(got[path]), value, rtol=1e-5, atol=1e-5,
                                   err_msg=path)
