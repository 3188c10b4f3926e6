"""The verification report: one row per compared leaf, rendered as a table or JSON."""

from __future__ import annotations

import dataclasses
import json
import math


@dataclasses.dataclass(frozen=True)
class Row:
    """One compared leaf: an output, a parameter gradient, or a state leaf after the call."""

    kind: str  # "output", "grad" or "state"
    haiku: str  # Haiku key ("module/name") or output path ("[0]", "['logits']")
    nnx: str  # NNX variable path or output path
    shape: str  # expected spec, e.g. "f32[4,3]"
    max_abs: float | None  # None when the leaf could not be compared (shape, dtype, missing)
    max_rel: float | None
    passed: bool
    detail: str = ""  # why it failed, or the tolerance that applied


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    """Everything `verify` compared, and how (mode, dropout handling, notes)."""

    rows: tuple[Row, ...]
    mode: str  # "train" or "eval"
    notes: tuple[str, ...] = ()
    dropout: str = "none"  # "none", "same keys" (bridge) or "rate 0" (both sides patched)

    @property
    def passed(self) -> bool:
        """True when at least one leaf was compared and every compared leaf is within tolerance."""
        return bool(self.rows) and all(r.passed for r in self.rows)

    @property
    def failures(self) -> tuple[Row, ...]:
        return tuple(r for r in self.rows if not r.passed)

    def table(self, *, failures_only: bool = False) -> str:
        """Plain aligned text: readable in a terminal, a log file or a CI page alike."""
        rows = self.failures if failures_only else self.rows
        header = ("kind", "haiku", "nnx", "shape", "max abs", "max rel", "ok", "detail")
        body = [(r.kind, r.haiku, r.nnx, r.shape, _num(r.max_abs), _num(r.max_rel),
                 "PASS" if r.passed else "FAIL", r.detail) for r in rows]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]
        lines = [_line(header, widths), _line(tuple("-" * w for w in widths), widths)]
        lines += [_line(line, widths) for line in body]
        verdict = "PASSED" if self.passed else "FAILED"
        lines.append(f"{verdict}: {len(self.rows) - len(self.failures)}/{len(self.rows)} leaves "
                     f"within tolerance ({self.mode} mode)")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def to_json(self) -> str:
        rows = [{k: _finite(v) for k, v in dataclasses.asdict(r).items()} for r in self.rows]
        return json.dumps({"passed": self.passed, "mode": self.mode, "notes": list(self.notes),
                           "rows": rows}, indent=1)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3g}"


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()


def _finite(value: object) -> object:
    """JSON has no NaN or infinity; write them as strings so the output stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return value
