"""Regenerates the golden trace summaries: `python -m tests.regen_goldens [ID ...]` from the repo.

Each catalogue entry's golden file (tests/golden/traces/<id>.txt) pins what the trace records and
the naming scheme it applies; after an intended change, rerun this and review the git diff.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from catalogue import BY_ID, ENTRIES, CatalogueEntry  # noqa: E402

from hk2nnx.program.summary import summary  # noqa: E402

GOLDEN_DIR = HERE / "golden" / "traces"
REGEN_COMMAND = "python -m tests.regen_goldens"


def golden_path(entry: CatalogueEntry) -> Path:
    return GOLDEN_DIR / f"{entry.id}.txt"


def render(entry: CatalogueEntry) -> str:
    """The golden text: a one-line header naming the construct, then the program summary."""
    return f"# {entry.id}: {entry.notes}\n\n{summary(entry.trace())}"


def stale_files() -> list[Path]:
    known = {golden_path(e).name for e in ENTRIES}
    return sorted(p for p in GOLDEN_DIR.glob("*.txt") if p.name not in known)


def main(ids: list[str]) -> int:
    unknown = [i for i in ids if i not in BY_ID]
    if unknown:
        print(f"unknown catalogue ids: {', '.join(unknown)}", file=sys.stderr)
        return 2
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    changed = 0
    for entry in [BY_ID[i] for i in ids] if ids else ENTRIES:
        path, text = golden_path(entry), render(entry)
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
            changed += 1
            print(f"wrote {path.relative_to(HERE.parent)}")
    for path in [] if ids else stale_files():
        path.unlink()
        print(f"removed stale {path.relative_to(HERE.parent)}")
    print(f"{changed} golden file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
