"""Each compat module computes its Haiku layer exactly: outputs, gradients, state, 3 SGD steps.

Weights move by `hk2nnx.port_to_nnx` with a traced program in faithful mode, so these tests
also prove the faithful entries of the layer table.
"""

import pytest
from compat_cases import CASES
from compat_harness import faithful_verify, train_both


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_verify_passes_in_training_mode(case):
    report = faithful_verify(case)
    assert report.passed, report.table(failures_only=True)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_three_sgd_steps_agree(case):
    faults = train_both(case, steps=3)
    assert not faults, "\n".join(faults)
