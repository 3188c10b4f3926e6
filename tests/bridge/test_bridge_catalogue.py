"""verify() passes for the bridge on every catalogue entry, in train and eval where they differ.

The bridge against its own original is a tautology; what it exercises is the plumbing on every
construct: tracing, porting Haiku weights into Haiku-layout variables, RNG keys, state write-back
and gradients mapped back through the port. The cost is XLA compile time (one init and two
value_and_grad programs per case). Entries tagged "slow" by the catalogue, and the HEAVY ones
below, run only with HK2NNX_FULL_CATALOGUE=1 so the default run stays near a minute.
"""

import os

import pytest
from catalogue import ENTRIES

from hk2nnx.bridge import HaikuModule
from hk2nnx.verify import verify

# CPU seconds per case measured on the 2-core development machine (train + eval where both).
HEAVY = {
    "resnet18": 30, "mobilenet_v1": 15, "nets.MobileNetV1": 7,
    "Recurrent-Conv3DLSTM-static_unroll": 6, "Recurrent-Conv3DLSTM-dynamic_unroll": 6,
    "Recurrent-Conv2DLSTM-static_unroll": 4, "Recurrent-Conv2DLSTM-dynamic_unroll": 5,
    "mha_value_size": 6, "deep_rnn_unroll": 5, "conv2d_nchw": 4,
}
FULL = os.environ.get("HK2NNX_FULL_CATALOGUE") == "1"
FLAGS = ("is_training", "training")


def _cases():
    for entry in ENTRIES:
        flag = next((f for f in FLAGS if f in entry.kwargs), None)
        heavy = "slow" in entry.tags or entry.id in HEAVY
        marks = [pytest.mark.skipif(heavy and not FULL, reason="heavy: HK2NNX_FULL_CATALOGUE=1")]
        for mode in ((True, False) if flag else (None,)):
            label = entry.id if mode is None else f"{entry.id}-{'train' if mode else 'eval'}"
            yield pytest.param(entry, flag, mode, id=label, marks=marks)


@pytest.mark.parametrize("entry, flag, training", list(_cases()))
def test_bridge_verifies_against_its_original(entry, flag, training):
    kwargs = dict(entry.kwargs)
    if flag is not None:
        kwargs[flag] = training

    def bridge():
        return HaikuModule.zeros(entry.forward, *entry.specs, **entry.kwargs)

    report = verify(entry.forward, bridge, *entry.inputs(0), **kwargs)
    assert report.passed, report.table(failures_only=True)
    kinds = {r.kind for r in report.rows}
    assert "output" in kinds
    if entry.trace().params:
        assert "grad" in kinds or any("not compared" in n for n in report.notes)
    if entry.trace().state:
        assert "state" in kinds
