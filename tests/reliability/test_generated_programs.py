"""Generated valid Haiku programs convert to NNX code that computes the same (hk2nnx.verify).

Long run: HK2NNX_FUZZ_EXAMPLES=200 python -m pytest tests/reliability/test_generated_programs.py
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, given, settings

import hk2nnx
from hk2nnx.convert import convert_source
from tests.reliability.program_grammar import haiku_programs

EXAMPLES = int(os.environ.get("HK2NNX_FUZZ_EXAMPLES", "0"))


def run(code: str, name: str) -> dict:
    namespace = {"__name__": name}
    exec(compile(code, name, "exec"), namespace)  # noqa: S102  (programs we generated)
    return namespace


# No shrinking: each example compiles two models, and the grammar's programs are already small.
@settings(max_examples=min(EXAMPLES, 300) or 6, deadline=None,
          phases=[Phase.explicit, Phase.reuse, Phase.generate],
          suppress_health_check=[HealthCheck.too_slow])
@given(haiku_programs())
def test_generated_program_converts_to_an_equivalent_nnx_program(program):
    source, features = program
    original = run(source, "generated_haiku")
    result = convert_source(source, filename="generated.py")
    assert result.changed and "haiku" not in result.code, result.code
    converted = run(result.code, "generated_nnx")
    spec = hk2nnx.TensorSpec.parse(f"f32[2,{features}]")
    report = hk2nnx.verify(original["model"], converted["model"], spec,
                           jit=False)
    assert report.passed, (report, result.code)
