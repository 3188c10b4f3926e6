"""RESULTS.md: the table, the machine it ran on, and the form-by-model matrix the converter's
choice of training-step form rests on."""

from __future__ import annotations

from bench import forms
from bench.report import PARITY, Row, machine

WHY = [
    ("- Every NNX form computes Haiku's losses and logits (the check rows), and the emitted one "
     "compiles to Haiku's XLA program (HLO compared on stack5). The forms differ in the Python "
     "work each call does to move state across `jit`: a fixed cost per call, visible on "
     "dispatch-dominated models (mlp_tiny, stack5_tiny), lost in compute-bound ones (stack50, "
     "resnet18)."),
    ("- Graph-mode `nnx.jit` and `nnx.cached_partial` traverse the object graph on each call; "
     "tree mode (`graph=False`, `nnx.jit_partial`) and `jax.jit` over an `nnx.State` flatten "
     "Variable and State nodes; `jax.jit` over pure dicts flattens plain dicts, as Haiku does."),
    ("- `nnx.Optimizer` adds a step counter, one more scalar output per step. On XLA:CPU that "
     "alone made the small scan model (stack5_tiny: width 32, batch 32) 1.4-1.65x slower in "
     "repeated runs (not at batch 8; the mechanism is not pinned down), and adding such a "
     "counter to the Haiku step slowed it the same way. So the emitted step keeps the "
     "original's optax loop over the pure param dict; its compiled HLO equals Haiku's."),
]


def _ratio(row: Row | None) -> float | None:
    if row is None or not row.measured.endswith("x"):
        return None
    return float(row.measured.rstrip("x"))


def form_matrix(rows: list[Row], kind: str) -> tuple[str, dict[str, list[str]]]:
    """Markdown matrix of `kind` (train/infer) ratios, form x model; and, per form, the models
    where it is slower than PARITY (or wrong)."""
    by_name = {r.figure: r for r in rows}
    models: list[str] = []
    for r in rows:
        parts = r.figure.split("/")
        if parts[0] == kind and parts[1] not in models:
            models.append(parts[1])
    slower: dict[str, list[str]] = {}
    lines = ["| form | " + " | ".join(models) + " |", "|---|" + "---|" * len(models)]
    for form, (label, _, _) in forms.FORMS.items():
        cells = []
        for model in models:
            row = by_name.get(f"{kind}/{model}" if form == forms.EMITTED
                              else f"{kind}/{model}/{form}")
            ratio = _ratio(row)
            wrong = row is not None and "wrong result" in row.detail
            cells.append("wrong" if wrong else "-" if ratio is None else f"{ratio:.2f}x")
            if wrong or (ratio is not None and ratio > PARITY):
                slower.setdefault(form, []).append(model)
        star = " (emitted)" if form == forms.EMITTED else ""
        lines.append(f"| {label}{star} | " + " | ".join(cells) + " |")
    return "\n".join(lines), slower


def _parity_text(slower: dict[str, list[str]]) -> list[str]:
    out = []
    for form, (label, _, _) in forms.FORMS.items():
        where = slower.get(form)
        verdict = (f"slower than {PARITY:.2f}x on {', '.join(where)}" if where
                   else f"at parity (<= {PARITY:.2f}x) on every measured model")
        out.append(f"- {label}: {verdict}")
    return out


def results_markdown(rows: list[Row], table: str, elapsed: float, quick: bool,
                     note: str | None) -> str:
    """The whole RESULTS.md text."""
    mode = "quick (smoke: tiny sizes, numbers meaningless)" if quick else "full"
    command = f"python bench/run.py{' --quick' if quick else ''}"
    intro = (f"Last {mode} run of `{command}` ({elapsed:.0f} s). Ratios are NNX (or hk2nnx) "
             "over the Haiku original measured in the same run: median of interleaved "
             "repetitions; the detail column gives the middle half of the per-repetition "
             "ratios, so a verdict near 1.00 can be weighed against noise.")
    lines = ["# Benchmark results", "", intro, ""]
    lines += [f"- {k}: {v}" for k, v in machine().items()]
    if note:
        lines += ["", f"**Note:** {note}"]
    train, slow_train = form_matrix(rows, "train")
    infer, _ = form_matrix(rows, "infer")
    about = (f"Ratio to Haiku of each NNX training-step form; at parity means <= {PARITY:.2f}x. "
             "The converter emits the form marked (emitted); the others are measured to show "
             "why.")
    lines += ["", "## Why the converter emits this form", "", *WHY, "", "## Table", "", table, "",
              "## Training-step forms by model", "", about, "", train, "",
              *_parity_text(slow_train), "",
              "## Inference forms by model", "", infer, ""]
    return "\n".join(lines)
