"""Every convert fixture: expected output, no haiku left, runs, same numbers, idempotent."""

from __future__ import annotations

import ast

import pytest
from fixture_runner import all_fixtures, compat_importable, run_module

import hk2nnx
from hk2nnx.convert import convert_source
from hk2nnx.mappings.layers import targets

FIXTURES = all_fixtures()
IDS = [f.id for f in FIXTURES]


@pytest.fixture(scope="module", params=FIXTURES, ids=IDS)
def case(request):
    fixture = request.param
    return fixture, convert_source(fixture.source, filename=str(fixture.path), mode=fixture.mode)


def test_output_is_the_reviewed_expected_file(case):
    fixture, result = case
    assert result.code == fixture.expected, (
        f"regenerate after review: python tests/convert/fixture_runner.py {fixture.path}")


def test_no_haiku_import_left(case):
    _, result = case
    for node in ast.walk(ast.parse(result.code)):
        if isinstance(node, ast.Import):
            assert not any(a.name.split(".")[0] == "haiku" for a in node.names)
        if isinstance(node, ast.ImportFrom):
            assert (node.module or "").split(".")[0] != "haiku"
    assert "hk2nnx" not in result.code


def test_converting_again_changes_nothing(case):
    fixture, result = case
    again = convert_source(result.code, mode=fixture.mode)
    assert again.code == result.code and not again.changed


def test_converted_runs_and_verifies_against_haiku(case, tmp_path):
    fixture, result = case
    with compat_importable(result.compat, tmp_path), targets(fixture.mode):
        _run_and_verify(fixture, result)


def _run_and_verify(fixture, result):
    original = run_module(fixture.source, f"original_{fixture.path.stem}")
    converted = run_module(result.code, f"converted_{fixture.path.stem}")
    check = fixture.check
    for variant in [check] + [{**check, **extra} for extra in check.get("also", [])]:
        if not variant:
            continue
        var = variant.get("var", "model")
        specs = [hk2nnx.TensorSpec.parse(s) for s in variant.get("inputs", [])]
        method = tuple(variant["apply"]) if "apply" in variant else None
        report = hk2nnx.verify(original[var], converted[var], *specs, method=method,
                               train=variant.get("train", False), **variant.get("haiku", {}))
        assert report.passed, report.table()
