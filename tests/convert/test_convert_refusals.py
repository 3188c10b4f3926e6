"""What is not converted stays as written, marked once with the TODO format and reported."""

from __future__ import annotations

import textwrap

import pytest

from hk2nnx.convert import ConvertSyntaxError, Safety, Severity, convert_source
from hk2nnx.convert.findings import TODO_PREFIX


def _convert(code: str):
    return convert_source(textwrap.dedent(code), filename="case.py")


LOOP = """
import haiku as hk


class Stack(hk.Module):
    def __call__(self, x, widths):
        for width in widths:
            x = hk.Linear(width)(x)
        return x
"""

UNKNOWN_LAYER = """
import haiku as hk


class Net(hk.Module):
    def __call__(self, x):
        return hk.BatchApply(abs)(x)
"""

LOCAL_ARGUMENT = """
import haiku as hk


class Net(hk.Module):
    def __call__(self, x, width):
        return hk.Linear(width)(x)
"""

UNFOLLOWED_SIZE = """
import haiku as hk


class Net(hk.Module):
    def __call__(self, x):
        return hk.Linear(3)(x.reshape((x.shape[0], -1)))
"""

PARENT_OF_REFUSED = """
import haiku as hk


class Inner(hk.Module):
    def __call__(self, x, depth):
        for _ in range(depth):
            x = hk.Linear(2)(x)
        return x


class Outer(hk.Module):
    def __call__(self, x):
        return Inner()(x)
"""

CASES = {
    "loop": (LOOP, "hk.Linear — it runs inside a loop", 8),
    "unknown_layer": (UNKNOWN_LAYER, "hk.BatchApply — no rule converts haiku.BatchApply yet", 7),
    "local_argument": (LOCAL_ARGUMENT, "hk.Linear — its arguments use `width`", 7),
    "unfollowed_size": (UNFOLLOWED_SIZE, "hk.Linear — the size of its input cannot be", 7),
    "parent_of_refused": (PARENT_OF_REFUSED, "Inner — class Inner is not converted", 14),
}


@pytest.mark.parametrize("name", CASES)
def test_refused_code_stays_and_is_marked_once(name):
    source, why, line = CASES[name]
    result = _convert(source)
    stripped = "\n".join(ln for ln in result.code.splitlines() if TODO_PREFIX not in ln.strip())
    assert stripped + "\n" == textwrap.dedent(source), "only marker lines may be added"
    markers = [ln.strip() for ln in result.code.splitlines() if TODO_PREFIX in ln]
    assert markers and all(m.startswith(TODO_PREFIX) and "; see guide section \"" in m
                           for m in markers)
    assert any(why in m for m in markers)
    assert any(f.line == line and why.split(" — ")[-1] in f.message for f in result.findings)
    assert all(f.severity in (Severity.WARNING, Severity.INFO) for f in result.findings)
    again = convert_source(result.code, filename="case.py")
    assert again.code == result.code and not again.changed
    assert again.findings, "refusals are reported again, but not marked twice"


def test_findings_point_at_the_construct():
    result = _convert(LOOP)
    (finding,) = [f for f in result.findings if f.safety is Safety.MANUAL]
    assert (finding.file, finding.line, finding.col) == ("case.py", 8, 17)
    assert finding.code == "HK000" or finding.code.startswith("HK0")
    assert str(finding).startswith("case.py:8:17: ")


def test_parent_of_a_refused_class_is_left_too():
    result = _convert(PARENT_OF_REFUSED)
    assert "class Outer(hk.Module)" in result.code
    assert any("Inner is not converted" in f.message for f in result.findings)


@pytest.mark.parametrize("source", [
    "x = 1\n",
    "import jax\n\n\ndef f(x):\n    return jax.nn.relu(x)  # no haiku here\n",
    "# haiku is mentioned in a comment only\nimport numpy as np\n",
])
def test_files_without_haiku_are_untouched(source):
    result = convert_source(source)
    assert result.code == source and not result.changed and not result.findings


def test_syntax_errors_say_where():
    with pytest.raises(ConvertSyntaxError) as info:
        convert_source("import haiku as hk\nclass A(hk.Module:\n    pass\n", filename="bad.py")
    assert str(info.value).startswith("bad.py:2:")
    assert "syntax error" in str(info.value)


HELPER_USE = """
import haiku as hk


class Head(hk.Module):
    def __call__(self, x):
        return hk.Linear(2)(x)


def helper(x):
    return Head()(x) * 2
"""


def test_uses_of_a_converted_class_outside_rules_are_marked():
    result = _convert(HELPER_USE)
    assert "class Head(nnx.Module)" in result.code
    assert "# TODO(hk2nnx): Head — Head is now an NNX module" in result.code
    assert [f.line for f in result.findings if f.code == "HK004"] == [11]
