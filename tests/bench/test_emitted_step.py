"""The bench's emitted row runs the converter's own output, and it trains like the Haiku loop."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
from bench import emitted, forms
from bench.checks import Setup
from bench.models import model_table


def test_the_emitted_code_is_the_pure_dict_optax_form():
    code = emitted.emitted_code()
    assert "@jax.jit\ndef update(params, state, opt_state, x, y):" in code
    assert "model = nnx.merge(graphdef, params, state)" in code
    assert "jax.value_and_grad(loss_fn, has_aux=True)(params)" in code
    assert "optimizer.update(grads, opt_state, params)" in code
    assert "nnx.Optimizer" not in code and "nnx.jit" not in code and "haiku" not in code


def test_the_emitted_step_takes_haikus_steps():
    spec = next(s for s in model_table(quick=True) if s.name == "mlp_tiny")
    setup = Setup(spec)
    haiku = forms.haiku_step(spec, setup.params, setup.state)
    mine = forms.nnx_step(forms.EMITTED, setup.nnx_model())
    want = [float(haiku(setup.x, setup.y)) for _ in range(3)]
    got = [float(mine(setup.x, setup.y)) for _ in range(3)]
    assert want[0] != want[2]  # the weights moved
    np.testing.assert_allclose(got, want, rtol=1e-5)
