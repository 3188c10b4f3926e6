"""Numeric checks: every NNX form computes what the Haiku original computes, from the same weights.

Against Haiku: the eval logits and the first HAIKU_STEPS training losses (later steps drift at
float rounding: Adam turns near-zero gradient differences into whole learning-rate steps). Against
the reference NNX form: every warm-up loss, tightly, since it is the same NNX program and only the
way state crosses jit differs; this is also what catches a form that forgets to carry RNG
counters or BatchNorm statistics.
"""

from __future__ import annotations

import functools
from typing import Any

import haiku as hk
import jax
import numpy as np
from flax import nnx

import hk2nnx
from bench import forms
from bench.models import ModelSpec
from hk2nnx.port.api import port_to_nnx

RTOL, ATOL = 1e-4, 1e-5  # NNX against Haiku
FORM_RTOL = 1e-5  # one NNX form against another
HAIKU_STEPS = 3
REFERENCE_FORM = "nnx_jit"  # NNX's own semantics; other forms must match it step for step


class Setup:
    """The Haiku weights of one model, and fresh NNX models filled from them by `port_to_nnx`."""

    def __init__(self, spec: ModelSpec):
        self.spec = spec
        self.x, self.y = spec.batch_data()
        transformed = hk.transform_with_state(spec.haiku)
        init = jax.jit(functools.partial(transformed.init, training=True))
        self.params, self.state = init(jax.random.key(0), self.x)
        program = hk2nnx.trace(transformed, self.x, training=True)
        self._base = spec.nnx(nnx.Rngs(0))
        port_to_nnx(self.params, self.state, self._base, program=program)

    def nnx_model(self) -> nnx.Module:
        """A clone per form: forms mutate their model (train/eval flags, RNG counters)."""
        return nnx.clone(self._base)


def mismatch(got: list[Any], want: list[Any], rtol: float = RTOL,
             atol: float = ATOL) -> str | None:
    """None if equal within tolerance, else which call differs and by how much."""
    for i, (a, b) in enumerate(zip(got, want)):
        a64, b64 = np.asarray(a, np.float64), np.asarray(b, np.float64)
        if not np.allclose(a64, b64, rtol=rtol, atol=atol):
            return f"call {i + 1} differs by {float(np.max(np.abs(a64 - b64))):.3g}"
    return None


def _twin_losses(spec: ModelSpec, names: list[str]) -> dict[str, str]:
    """Training losses of the dropout-free twin against Haiku (masks cannot agree across
    libraries, so the real-rate model is only checked against the reference NNX form)."""
    setup = Setup(spec)
    x, y = setup.x, setup.y
    haiku = forms.haiku_step(spec, setup.params, setup.state)
    want = [haiku(x, y) for _ in range(HAIKU_STEPS)]
    faults = {}
    for form in names:
        step = forms.nnx_step(form, setup.nnx_model())
        if bad := mismatch([step(x, y) for _ in range(HAIKU_STEPS)], want):
            faults[form] = f"rate-0 twin vs Haiku: {bad}"
    return faults


def form_faults(spec: ModelSpec, names: list[str], train_out: dict[str, list[Any]],
                infer_out: dict[str, list[Any]]) -> tuple[dict[str, str], dict[str, str], str]:
    """(training faults, inference faults, how it was checked) for the forms in `names`."""
    if spec.check is not None:
        train = _twin_losses(spec.check, names)
        how = f"training: rate-0 twin, {HAIKU_STEPS} losses vs Haiku"
    else:
        train = {f: f"vs Haiku: {bad}" for f in names
                 if (bad := mismatch(train_out[f][:HAIKU_STEPS], train_out["haiku"]))}
        how = f"training: {HAIKU_STEPS} losses vs Haiku"
    ref = REFERENCE_FORM if REFERENCE_FORM in names else None
    if ref:
        steps = len(train_out[ref])
        how += f", all {steps} warm-up losses vs {ref} (rtol {FORM_RTOL:g})"
        for form in names:
            bad = mismatch(train_out[form], train_out[ref], rtol=FORM_RTOL, atol=0.0)
            if bad and form not in train:
                train[form] = f"vs {ref}: {bad}"
    infer = {f: f"vs Haiku: {bad}" for f in names
             if (bad := mismatch(infer_out[f][:1], infer_out["haiku"][:1]))}
    return train, infer, how + "; inference: eval logits vs Haiku"
