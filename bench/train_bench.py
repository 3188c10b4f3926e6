"""Training step, inference and first-call compile time of each NNX form against Haiku.

Every NNX model starts from the Haiku weights (`port_to_nnx`), and the first losses and logits of
every form must equal Haiku's: a form that is fast because it computes something else fails its
check row instead of winning its timing row.
"""

from __future__ import annotations

import functools
from typing import Any

import haiku as hk
import jax
import numpy as np
from flax import nnx

import hk2nnx
from bench import forms, timing
from bench.models import ModelSpec, model_table
from bench.report import FAIL, PASS, PENDING, Row, at_most, info_ratio
from hk2nnx.port.api import port_to_nnx

TRAIN_TARGET, INFER_TARGET, COMPILE_TARGET = 1.00, 1.00, 1.10
COMPILE_MODELS = ("stack5", "stack50")
RTOL, ATOL = 1e-4, 1e-5
REFERENCE_FORM = "nnx_jit"  # NNX's own semantics: other forms must draw the same dropout masks
QUICK_ALL_FORMS = ("mlp_tiny",)  # quick mode times every form on this model, the emitted one elsewhere
PENDING_WHY = "examples/resnet18/nnx_resnet18.py (make_model) not present yet"


def row_names(quick: bool) -> tuple[list[str], dict[str, str]]:
    """Every row this section prints, with its target, from the model and form tables."""
    others = [f for f in forms.FORMS if f != forms.EMITTED]
    names, targets = [], {}
    for spec in model_table(quick):
        names.append(f"check/{spec.name}")
        targets[names[-1]] = f"= Haiku (rtol {RTOL:g})"
        for kind, limit in (("train", TRAIN_TARGET), ("infer", INFER_TARGET)):
            names.append(f"{kind}/{spec.name}")
            targets[names[-1]] = f"<= {limit:.2f}x"
            names += [f"{kind}/{spec.name}/{f}" for f in others]
        if spec.name in COMPILE_MODELS:
            names.append(f"compile/{spec.name}")
            targets[names[-1]] = f"<= {COMPILE_TARGET:.2f}x"
    return names, targets


class _Setup:
    """The Haiku weights of one model, and fresh NNX models filled from them."""

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


def _mismatch(got: list[Any], want: list[Any]) -> str | None:
    for i, (a, b) in enumerate(zip(got, want)):
        if not np.allclose(np.asarray(a), np.asarray(b), rtol=RTOL, atol=ATOL):
            err = float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))
            return f"call {i + 1} differs by {err:.3g}"
    return None


def _check_separately(spec: ModelSpec, names: list[str], n: int) -> dict[str, str]:
    """For models whose timed variant draws random masks: check the rate-0 twin instead."""
    setup = _Setup(spec)
    x, y = setup.x, setup.y
    ref_step = forms.haiku_step(spec, setup.params, setup.state)
    want = [ref_step(x, y) for _ in range(n)]
    want_out = [forms.haiku_predict(spec, setup.params, setup.state)(x)]
    faults = {}
    for form in names:
        step = forms.nnx_step(form, setup.nnx_model())
        bad = _mismatch([step(x, y) for _ in range(n)], want)
        bad = bad or _mismatch([forms.nnx_predict(form, setup.nnx_model())(x)], want_out)
        if bad:
            faults[form] = bad
    return faults


def _timed(calls: dict[str, timing.Call], settings: timing.Settings, block_each: bool,
           ) -> tuple[dict[str, list[Any]], dict[str, list[float]], dict[str, float]]:
    """Warm-up outputs (first call included), interleaved times, and first-call seconds."""
    outputs, first = {}, {}
    for name, call in calls.items():
        first[name], out = timing.first_call(call)
        outputs[name] = [out] + timing.warm(call, settings.warmup)
    times = timing.interleaved(calls, settings, block_each=block_each, reference="haiku")
    return outputs, times, first


def _ratio_rows(kind: str, spec: ModelSpec, times: dict[str, list[float]], names: list[str],
                faults: dict[str, str], limit: float) -> list[Row]:
    base_ms = timing.median(times["haiku"]) * 1e3
    rows = []
    for form in names:
        ratio = timing.paired_ratio(times, form, "haiku")
        ms = timing.median(times[form]) * 1e3
        lo, hi = timing.ratio_spread(times, form, "haiku")
        detail = (f"{forms.FORMS[form][0]}: {ms:.3f} ms vs Haiku {base_ms:.3f} ms; "
                  f"middle half of ratios {lo:.2f}-{hi:.2f}")
        if form == forms.EMITTED:
            row = at_most(f"{kind}/{spec.name}", ratio, limit, detail=detail)
        else:
            row = info_ratio(f"{kind}/{spec.name}/{form}", ratio, detail)
        if form in faults:
            row.verdict, row.detail = FAIL, f"wrong result ({faults[form]}); {row.detail}"
        rows.append(row)
    return rows


def bench_model(spec: ModelSpec, settings: timing.Settings, quick: bool) -> list[Row]:
    """check, train and infer rows of one model (and compile rows for the layer_stack ones)."""
    names = ([forms.EMITTED] if quick and spec.name not in QUICK_ALL_FORMS
             else list(forms.FORMS))
    skipped = [f for f in forms.FORMS if f not in names]
    setup = _Setup(spec)
    x, y = setup.x, setup.y
    steps = {"haiku": forms.haiku_step(spec, setup.params, setup.state)}
    steps.update({f: forms.nnx_step(f, setup.nnx_model()) for f in names})
    train_out, train_times, firsts = _timed(
        {k: functools.partial(s, x, y) for k, s in steps.items()}, settings, False)
    preds = {"haiku": forms.haiku_predict(spec, setup.params, setup.state)}
    preds.update({f: forms.nnx_predict(f, setup.nnx_model()) for f in names})
    infer_out, infer_times, _ = _timed(
        {k: functools.partial(p, x) for k, p in preds.items()}, settings, True)

    if spec.check is not None:
        faults = _check_separately(spec.check, names, 1 + settings.warmup)
        ref = REFERENCE_FORM if REFERENCE_FORM in names else None
        faults.update({f: f"masks differ from {ref}: {bad}" for f in names if ref and f not in
                       faults and (bad := _mismatch(train_out[f], train_out[ref]))})
        how = (f"rate-0 twin vs Haiku, and at the real rate every form's losses = {ref}'s"
               if ref else "rate-0 twin vs Haiku")
    else:
        faults = {f: bad for f in names
                  if (bad := _mismatch(train_out[f], train_out["haiku"])
                      or _mismatch(infer_out[f], infer_out["haiku"]))}
        how = "timed steps' warm-up losses and logits"
    check = Row(f"check/{spec.name}", f"= Haiku (rtol {RTOL:g})", f"{len(names) - len(faults)}"
                f"/{len(names)} forms", PASS if not faults else FAIL,
                (f"{how}; " + "; ".join(f"{k}: {v}" for k, v in faults.items())) if faults
                else f"{how}; {1 + settings.warmup} losses + logits each")
    rows = [check]
    rows += _ratio_rows("train", spec, train_times, names, faults, TRAIN_TARGET)
    rows += _ratio_rows("infer", spec, infer_times, names, faults, INFER_TARGET)
    rows += [Row(f"{kind}/{spec.name}/{f}", "-", "-", PENDING, "quick mode: emitted form only")
             for kind in ("train", "infer") for f in skipped]
    if spec.name in COMPILE_MODELS and quick:  # smoke: reuse the timed steps' first calls
        ratio = firsts[forms.EMITTED] / firsts["haiku"]
        rows.append(at_most(f"compile/{spec.name}", ratio, COMPILE_TARGET, detail=(
            f"quick: one first call each, NNX {firsts[forms.EMITTED]:.2f} s vs Haiku "
            f"{firsts['haiku']:.2f} s")))
    elif spec.name in COMPILE_MODELS:
        rows.append(bench_compile(setup, 5))
    return rows


def bench_compile(setup: _Setup, reps: int) -> Row:
    """First call (trace + compile + run) of fresh Haiku and emitted-NNX steps, alternating; one
    discarded round first, so shared inner jits (jax.nn.relu...) are warm for both sides."""
    spec, x, y = setup.spec, setup.x, setup.y
    times: dict[str, list[float]] = {"haiku": [], "nnx": []}
    for rep in range(reps + 1):
        order = ("haiku", "nnx") if rep % 2 else ("nnx", "haiku")
        for side in order:
            if side == "haiku":
                step = forms.haiku_step(spec, setup.params, setup.state)
            else:
                step = forms.nnx_step(forms.EMITTED, setup.nnx_model())
            seconds, _ = timing.first_call(functools.partial(step, x, y))
            if rep:  # round 0 is the discarded one
                times[side].append(seconds)
    ratio = timing.paired_ratio(times, "nnx", "haiku")
    return at_most(f"compile/{spec.name}", ratio, COMPILE_TARGET, detail=(
        f"first call, median of {reps}: NNX {timing.median(times['nnx']):.2f} s vs Haiku "
        f"{timing.median(times['haiku']):.2f} s"))


def run(quick: bool, only: str | None = None) -> list[Row]:
    """All model rows; a model whose NNX version is missing is pending, one that crashes FAILs."""
    from bench.report import guarded

    settings = timing.Settings.of(quick)
    names, targets = row_names(quick)
    rows = []
    for spec in model_table(quick):
        if only and only != spec.name:
            continue
        mine = [n for n in names if n.split("/")[1] == spec.name]
        if spec.nnx is None or (quick and not spec.in_quick):
            why = (PENDING_WHY if spec.nnx is None else
                   "quick mode skips this model: its compiles alone exceed the smoke budget")
            rows += [Row(n, targets.get(n, "-"), "-", PENDING, why) for n in mine]
            continue
        rows += guarded(mine, targets, lambda spec=spec: bench_model(spec, settings, quick))
    return rows
