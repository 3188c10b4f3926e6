"""Every rule documents itself (ruff style) under a stable code; every finding names a rule."""

from __future__ import annotations

import pytest
from fixture_runner import all_fixtures

from hk2nnx.convert import convert_source
from hk2nnx.convert.rules.base import INFOS

HEADINGS = ("What it converts:", "Haiku:", "NNX:", "Fix safety:", "Guide section:")
GUIDE_SECTIONS = {
    "Basic Module definition", "Variable creation", "Training step and compilation",
    "Handling non-parameter states", "Using multiple methods", "Transformations",
    "Scan over layers", "Top-level Haiku functions vs top-level Flax modules",
}


@pytest.mark.parametrize("code", sorted(INFOS))
def test_rule_doc_has_every_heading(code):
    info = INFOS[code]
    doc = info.doc
    assert doc.startswith(f"{code} {info.name}:"), "the docstring opens with code and name"
    for heading in HEADINGS:
        assert heading in doc, f"{code} lacks {heading}"
    assert info.safety.value in doc.split("Fix safety:")[1].split("\n")[0]
    assert info.section in GUIDE_SECTIONS
    assert f'"{info.section}"' in doc


def test_codes_are_stable_and_unique():
    assert all(code.startswith("HK") and len(code) == 5 for code in INFOS)
    assert len({i.name for i in INFOS.values()}) == len(INFOS)


def test_every_finding_names_a_registered_rule():
    for fixture in all_fixtures():
        for finding in convert_source(fixture.source).findings:
            assert finding.code in INFOS, finding
