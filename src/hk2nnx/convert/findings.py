"""What the converter reports: findings with a rule code, a place, a severity and a fix safety."""

from __future__ import annotations

import dataclasses
import enum


class Severity(enum.Enum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"


class Safety(enum.Enum):
    """How far a fix can be trusted: as is, after a read, or only by hand (ruff's grading)."""

    SAFE = "safe"
    REVIEW = "review"
    MANUAL = "manual"


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing the converter did or could not do, at `file:line:col`."""

    code: str
    file: str
    line: int
    col: int
    message: str
    severity: Severity
    safety: Safety

    def __str__(self) -> str:
        return (f"{self.file}:{self.line}:{self.col}: {self.code} [{self.severity.value}, "
                f"{self.safety.value}] {self.message}")


TODO_PREFIX = "# TODO(hk2nnx): "


def todo_text(construct: str, why: str, section: str) -> str:
    """The one marker format: `# TODO(hk2nnx): <construct> — <why>; see guide section "<s>"`."""
    return f'{TODO_PREFIX}{construct} — {why}; see guide section "{section}"'


class Refusal(Exception):
    """A construct cannot be converted safely; it stays as written, marked with a TODO."""

    def __init__(self, construct: str, why: str, section: str, code: str = "HK000",
                 node: object | None = None) -> None:
        super().__init__(f"{construct}: {why}")
        self.construct = construct
        self.why = why
        self.section = section
        self.code = code
        self.node = node  # where the TODO goes; the caller's best guess when None

    def at(self, node: object) -> Refusal:
        """This refusal, placed at `node` unless it already has a place."""
        if self.node is None:
            self.node = node
        return self
