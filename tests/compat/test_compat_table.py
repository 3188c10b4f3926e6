"""The layer table's compat targets: each names a compat class, each is exercised by a case,
and lookups answer with faithful targets only inside `targets(FAITHFUL)`."""

import functools

import pytest
from compat_cases import CASES
from flax import nnx

import hk2nnx
from hk2nnx.compat import available
from hk2nnx.mappings import layers
from hk2nnx.mappings.layers import FAITHFUL, IDIOMATIC, LAYERS, for_classes, targets
from hk2nnx.port.api import nnx_variables

COMPAT_TARGETS = [m for m in LAYERS if m.is_compat] + [m.faithful for m in LAYERS if m.faithful]


@functools.cache
def _traced(case_id):
    case = next(c for c in CASES if c.id == case_id)
    flags = {"is_training": True} if case.takes_flag else {}
    with targets(FAITHFUL):
        return hk2nnx.trace(case.forward, *case.tensor_specs, **flags)


@pytest.mark.parametrize("mapping", COMPAT_TARGETS, ids=[m.haiku for m in COMPAT_TARGETS])
def test_compat_target_names_an_emittable_class(mapping):
    assert mapping.nnx_class_name in available()


def test_every_compat_target_is_exercised_by_a_case():
    exercised = set()
    for case in CASES:
        for record in _traced(case.id).modules:
            mapping = for_classes(record.bases, FAITHFUL)
            if mapping is not None and mapping.is_compat:
                exercised.add(mapping.haiku)
    assert exercised == {m.haiku for m in COMPAT_TARGETS}


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_leaf_types_follow_haiku_collections(case):
    """Haiku params become nnx.Param, Haiku state nnx.BatchStat, at the table's paths."""
    program = _traced(case.id)
    model = nnx.eval_shape(lambda: case.model(nnx.Rngs(0)))
    actual = {path: type(v) for path, v in nnx_variables(model).items()}
    expected = {}
    for v in program.variables:
        for path in v.nnx_path.split(","):
            expected[path] = nnx.Param if v.collection == "params" else nnx.BatchStat
    assert actual == expected


def test_lookups_are_idiomatic_unless_faithful_is_asked_for():
    batch_norm = ("haiku.BatchNorm",)
    assert for_classes(batch_norm).nnx == "flax.nnx.BatchNorm"
    assert for_classes(batch_norm, FAITHFUL).nnx == "hk2nnx_compat.BatchNorm"
    with targets(FAITHFUL):
        assert for_classes(batch_norm).nnx == "hk2nnx_compat.BatchNorm"
        assert for_classes(batch_norm, IDIOMATIC).nnx == "flax.nnx.BatchNorm"
        assert for_classes(("haiku.Linear",)).nnx == "flax.nnx.Linear"  # no faithful target
        with targets(IDIOMATIC):
            assert for_classes(batch_norm).nnx == "flax.nnx.BatchNorm"
        assert layers.for_nnx_class("BatchNorm", {"~/mean_ema/counter"}).is_compat
    assert for_classes(batch_norm).nnx == "flax.nnx.BatchNorm"


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError, match="expected one of"), targets("exact"):
        pass
