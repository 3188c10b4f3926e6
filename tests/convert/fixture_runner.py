"""Shared machinery for convert fixtures: load pairs, run both sides, compare after porting.

A fixture is `fixtures/<section>/<case>.py` (Haiku) with `<case>.expected.py` (the reviewed
NNX result). Its first line is `# check: {...}`, a dict literal saying how to verify it with
`hk2nnx.verify` (port the original's initial weights, compare outputs, gradients and state):
  var     the transformed variable in the original and the model in the result ("model")
  inputs  array specs for the positional inputs, e.g. ["f32[2,16]"]
  haiku   static keyword arguments of the apply, e.g. {"training": False} (sets the mode)
  apply   multi_transform: (index into model.apply, NNX method name)
  train   the mode when no training flag is given (default False)
  also    more variants: dicts overriding the keys above (e.g. the train-mode run)
Fixtures convert in idiomatic mode, except those under `fixtures/faithful/` (faithful mode:
the converted code imports `_haiku_compat`, which the runner writes beside it).
To regenerate an expected file after reviewing the diff:
  python -m tests.convert.fixture_runner tests/convert/fixtures/<section>/<case>.py
"""

from __future__ import annotations

import ast
import contextlib
import dataclasses
import sys
from collections.abc import Iterator
from pathlib import Path

FIXTURES = Path(__file__).parent / "fixtures"


@dataclasses.dataclass(frozen=True)
class Fixture:
    path: Path

    @property
    def id(self) -> str:
        return f"{self.path.parent.name}/{self.path.stem}"

    @property
    def mode(self) -> str:
        return "faithful" if self.path.parent.name == "faithful" else "idiomatic"

    @property
    def expected_path(self) -> Path:
        return self.path.with_suffix(".expected.py")

    @property
    def source(self) -> str:
        return self.path.read_text(encoding="utf-8")

    @property
    def expected(self) -> str:
        return self.expected_path.read_text(encoding="utf-8")

    @property
    def check(self) -> dict:
        first = self.source.splitlines()[0]
        if not first.startswith("# check:"):
            return {}
        return ast.literal_eval(first.partition(":")[2].strip())


def all_fixtures() -> list[Fixture]:
    return [Fixture(p) for p in sorted(FIXTURES.glob("*/*.py"))
            if not p.name.endswith(".expected.py")]


def run_module(code: str, name: str) -> dict:
    namespace = {"__name__": name}
    exec(compile(code, name, "exec"), namespace)  # noqa: S102  (fixtures are our own code)
    return namespace


@contextlib.contextmanager
def compat_importable(names: frozenset[str], folder: Path) -> Iterator[None]:
    """`import _haiku_compat` finds a module defining `names` (written into `folder`)."""
    from hk2nnx.compat import compat_source

    (folder / "_haiku_compat.py").write_text(compat_source(names), encoding="utf-8")
    sys.modules.pop("_haiku_compat", None)
    sys.path.insert(0, str(folder))
    try:
        yield
    finally:
        sys.path.remove(str(folder))
        sys.modules.pop("_haiku_compat", None)


def regenerate(path: Path) -> None:
    from hk2nnx.convert import convert_source

    fixture = Fixture(path)
    fixture.expected_path.write_text(convert_source(fixture.source, mode=fixture.mode).code, encoding="utf-8")
    print(f"wrote {fixture.expected_path}; review it with git diff")


if __name__ == "__main__":
    for arg in sys.argv[1:]:
        if not arg.endswith(".expected.py"):
            regenerate(Path(arg))
