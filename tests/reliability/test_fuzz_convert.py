"""Fuzz the converter: odd Haiku-looking source never crashes it, and what it emits always parses.

Bounded for CI; for a long run:
  HK2NNX_FUZZ_EXAMPLES=2000 python -m pytest tests/reliability/test_fuzz_convert.py \
      --hypothesis-show-statistics
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hk2nnx.convert import ConvertSyntaxError, convert_source
from tests.reliability.fuzz_grammar import mutated_fixtures, programs

EXAMPLES = int(os.environ.get("HK2NNX_FUZZ_EXAMPLES", "0"))
FUZZ = settings(max_examples=EXAMPLES or 60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_converts_safely(source: str) -> None:
    """The converter's contract on any text: ConvertSyntaxError or parseable, stable code."""
    try:
        result = convert_source(source, filename="fuzz.py")
    except ConvertSyntaxError:
        return
    compile(result.code, "converted.py", "exec", dont_inherit=True)
    if not result.changed:
        if result.code != source:
            raise AssertionError("unchanged result whose code differs from the input")
        return
    again = convert_source(result.code, filename="converted.py")
    compile(again.code, "converted-twice.py", "exec", dont_inherit=True)


@FUZZ
@given(programs())
def test_grammar_programs_convert_to_parseable_code(source):
    check_converts_safely(source)


@settings(FUZZ, max_examples=(EXAMPLES or 60) // 2)
@given(mutated_fixtures())
def test_mutated_fixtures_convert_to_parseable_code(source):
    check_converts_safely(source)


@settings(FUZZ, max_examples=(EXAMPLES or 60) // 2)
@given(st.text(alphabet=st.sampled_from(list("haiku hk.Linear()=:\n\t#'\"\\x1[]")), max_size=80))
def test_arbitrary_text_is_an_error_or_parseable(source):
    check_converts_safely("import haiku as hk\n" + source)
