"""Every stated idiomatic-mode difference is re-measured on the installed haiku and flax."""

import pytest

from hk2nnx.compat.differences import DIFFERENCES, for_haiku

IDS = [f"{d.haiku}-{getattr(d.measure, 'func', d.measure).__name__}" for d in DIFFERENCES]


@pytest.mark.parametrize("difference", DIFFERENCES, ids=IDS)
def test_stated_size_still_holds(difference):
    value = difference.measure()
    assert abs(value - difference.measured) <= difference.tolerance, (
        f"{difference.describe()} Re-measured: {value:.6g}; update the table")


def test_lookup_and_description():
    layer_norm = for_haiku("haiku.LayerNorm")
    assert len(layer_norm) == 3
    assert "inputs of std 1e-3: 1.185" in layer_norm[0].describe()
    assert for_haiku("haiku.Nope") == ()
