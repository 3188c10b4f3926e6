"""Converted training steps take the same step as the Haiku originals, from ported weights."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from fixture_runner import all_fixtures, run_module
from flax import nnx

import hk2nnx
from hk2nnx.convert import convert_source
from hk2nnx.port.api import nnx_variables, port_to_nnx, to_nnx_arrays

STEPS = [f for f in all_fixtures() if "step" in f.check]


def _array(spec: hk2nnx.TensorSpec, key):
    if spec.dtype.startswith("int"):
        return jax.random.randint(key, spec.shape, 0, 2).astype(spec.dtype)
    return jax.random.normal(key, spec.shape, spec.dtype)


@pytest.mark.parametrize("fixture", STEPS, ids=[f.id for f in STEPS])
def test_one_step_moves_the_weights_the_same_way(fixture):
    check, step = fixture.check, fixture.check["step"]
    original = run_module(fixture.source, f"original_{fixture.path.stem}")
    converted = run_module(convert_source(fixture.source, mode=fixture.mode).code,
                           f"converted_{fixture.path.stem}")
    var = check.get("var", "model")
    specs = [hk2nnx.TensorSpec.parse(s) for s in check["inputs"]]
    init_kwargs = {k: True for k in check.get("haiku", {})}  # Haiku initialises in training
    samples = [np.zeros(s.shape, s.dtype) for s in specs]
    out = original[var].init(jax.random.key(0), *samples, **init_kwargs)
    params, state = out if isinstance(out, tuple) else (out, {})
    program = hk2nnx.trace(original[var], *specs, **init_kwargs)
    model = converted[var]
    port_to_nnx(params, state, model, program=program)
    arrays = {name: _array(hk2nnx.TensorSpec.parse(text), jax.random.key(i))
              for i, (name, text) in enumerate(step.items())
              if isinstance(text, str) and "[" in text}
    tx = step.get("tx")
    haiku_values = {"key": jax.random.key(1), "params": params,
                    "opt_state": original[tx].init(params) if tx else None, **arrays}
    nnx_values = {var: model, **arrays,
                  "opt_state": nnx.Optimizer(model, converted[tx], wrt=nnx.Param) if tx else None}
    fn = step.get("fn", "train_step")
    result = original[fn](*[haiku_values[n] for n in step["haiku"]])
    new_params = result[0] if isinstance(result, tuple) else result
    converted[fn](*[nnx_values[n] for n in step["nnx"]])
    expected, _, _ = to_nnx_arrays(new_params, state, program)
    got = nnx_variables(model)
    trained = {v.nnx_path for v in program.params}
    assert trained
    for path, value in ((p, v) for p, v in expected.items() if p in trained):
        np.testing.assert_allclose(np.asarray(got[path].get_value()), value, rtol=2e-5,
                                   atol=2e-6, err_msg=path)
