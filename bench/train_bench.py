"""Training step, inference and first-call compile time of each NNX form against Haiku.

Every NNX model starts from the Haiku weights (`port_to_nnx`), and the warm-up losses and logits
of every form are checked (`bench.checks`): a form that is fast because it computes something else
fails its check row and its timing rows instead of winning them.
"""

from __future__ import annotations

import functools
from typing import Any

from bench import checks, forms, timing
from bench.checks import Setup
from bench.models import ModelSpec, model_table
from bench.report import FAIL, PASS, PENDING, Row, at_most, info_ratio

TRAIN_TARGET, INFER_TARGET, COMPILE_TARGET = 1.00, 1.00, 1.10
COMPILE_MODELS = ("stack5", "stack50")
QUICK_ALL_FORMS = ("mlp_tiny",)  # quick mode times every form here, only the emitted one elsewhere
PENDING_WHY = "examples/resnet18/nnx_resnet18.py (make_model) not present yet"


def row_names(quick: bool) -> tuple[list[str], dict[str, str]]:
    """Every row this section prints, with its target, from the model and form tables."""
    others = [f for f in forms.FORMS if f != forms.EMITTED]
    names, targets = [], {}
    for spec in model_table(quick):
        names.append(f"check/{spec.name}")
        targets[names[-1]] = f"= Haiku (rtol {checks.RTOL:g})"
        for kind, limit in (("train", TRAIN_TARGET), ("infer", INFER_TARGET)):
            names.append(f"{kind}/{spec.name}")
            targets[names[-1]] = f"<= {limit:.2f}x"
            names += [f"{kind}/{spec.name}/{f}" for f in others]
        if spec.name in COMPILE_MODELS:
            names.append(f"compile/{spec.name}")
            targets[names[-1]] = f"<= {COMPILE_TARGET:.2f}x"
    return names, targets


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
    setup = Setup(spec)
    x, y = setup.x, setup.y
    steps = {"haiku": forms.haiku_step(spec, setup.params, setup.state)}
    steps.update({f: forms.nnx_step(f, setup.nnx_model()) for f in names})
    train_out, train_times, firsts = _timed(
        {k: functools.partial(s, x, y) for k, s in steps.items()}, settings, False)
    preds = {"haiku": forms.haiku_predict(spec, setup.params, setup.state)}
    preds.update({f: forms.nnx_predict(f, setup.nnx_model()) for f in names})
    infer_out, infer_times, _ = _timed(
        {k: functools.partial(p, x) for k, p in preds.items()}, settings, True)

    train_faults, infer_faults, how = checks.form_faults(spec, names, train_out, infer_out)
    bad = {**infer_faults, **train_faults}
    check = Row(f"check/{spec.name}", f"= Haiku (rtol {checks.RTOL:g})",
                f"{len(names) - len(bad)}/{len(names)} forms", PASS if not bad else FAIL,
                how + "".join(f"; {k}: {v}" for k, v in bad.items()))
    rows = [check]
    rows += _ratio_rows("train", spec, train_times, names, train_faults, TRAIN_TARGET)
    rows += _ratio_rows("infer", spec, infer_times, names, infer_faults, INFER_TARGET)
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


def bench_compile(setup: Setup, reps: int) -> Row:
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
