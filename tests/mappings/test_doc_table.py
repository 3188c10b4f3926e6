"""docs/layers.md is the generated table of constructs and targets, as the tables stand now."""

from pathlib import Path

from hk2nnx.mappings import constructors, doc_table, functions

DOC = Path(__file__).resolve().parents[2] / "docs" / "layers.md"


def test_committed_table_is_the_generated_one():
    assert DOC.read_text(encoding="utf-8") == doc_table.render(), (
        f"regenerate: {doc_table.COMMAND}")


def test_table_lists_every_entry_once_with_both_targets():
    text = doc_table.render()
    for entry in constructors.CONSTRUCTORS:
        name = "hk." + entry.haiku.removeprefix("haiku.")
        rows = [line for line in text.splitlines() if line.startswith(f"| `{name}` |")]
        assert len(rows) == 1, name
        assert rows[0].count("`nnx.") + rows[0].count("`hkc.") >= 2, rows[0]
    for entry in functions.COMPAT_FUNCTIONS:
        assert f"`hkc.{entry.compat}`" in text
