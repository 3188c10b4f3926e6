"""Checks every layer-table entry against the installed haiku and flax.

A Haiku or Flax release that renames a class or a leaf, or changes a kernel layout, fails here:
each real NNX target is built with the shapes of every traced Haiku instance in the catalogue,
and the rule's predicted NNX leaves must be exactly the layer's leaves.
"""

import functools
import importlib
import inspect

import haiku as hk
import pytest
from catalogue import ENTRIES
from flax import nnx
from layer_probes import BUILDERS, build, layer_instances

from hk2nnx.mappings.layers import COMPAT_PREFIX, LAYERS
from hk2nnx.port.api import nnx_variables

REAL = [m for m in LAYERS if not m.is_compat]
IDS = [m.haiku for m in LAYERS]
FAITHFUL = [m.faithful for m in LAYERS if m.faithful is not None]


def _resolve(qualified: str):
    module_name, _, attr = qualified.rpartition(".")
    return getattr(importlib.import_module(module_name), attr, None)


@functools.cache
def _instances():
    """(entry id, instance) for every table-claimed layer in the catalogue, one per shape."""
    seen, out = set(), []
    for entry in ENTRIES:
        for inst in layer_instances(entry.trace()):
            key = (inst.mapping.haiku, repr(sorted(inst.attrs.items())),
                   tuple(sorted((r, s.shape) for r, s in inst.leaves.items())))
            if key not in seen:
                seen.add(key)
                out.append((entry.id, inst))
    return out


def _instances_of(haiku_name: str):
    return [(eid, inst) for eid, inst in _instances() if inst.mapping.haiku == haiku_name]


@pytest.mark.parametrize("mapping", LAYERS, ids=IDS)
def test_haiku_class_exists_at_public_name(mapping):
    cls = _resolve(mapping.haiku)
    assert inspect.isclass(cls) and issubclass(cls, hk.Module), mapping.haiku


@pytest.mark.parametrize("mapping", LAYERS, ids=IDS)
def test_nnx_class_exists_or_is_compat(mapping):
    if mapping.is_compat:
        assert mapping.nnx.count(".") == 1 and mapping.nnx.startswith(COMPAT_PREFIX)
        return
    cls = _resolve(mapping.nnx)
    assert inspect.isclass(cls) and issubclass(cls, nnx.Module), mapping.nnx


@pytest.mark.parametrize("mapping", [*LAYERS, *FAITHFUL],
                         ids=IDS + [f"{m.haiku}-faithful" for m in FAITHFUL])
def test_rules_claim_each_leaf_once(mapping):
    refs = [r for rule in mapping.leaves for r in rule.haiku]
    targets = [t for rule in mapping.leaves for t in rule.nnx]
    assert len(refs) == len(set(refs)) and len(targets) == len(set(targets))
    assert all(rule.collection in ("params", "state") for rule in mapping.leaves)


def test_every_real_target_has_a_builder():
    assert {m.haiku for m in REAL} == set(BUILDERS)


def test_faithful_targets_are_compat_modules_of_the_same_layer():
    for mapping in LAYERS:
        if mapping.faithful is not None:
            assert mapping.faithful.is_compat and mapping.faithful.haiku == mapping.haiku
            assert mapping.faithful.faithful is None


@pytest.mark.parametrize("mapping", [*LAYERS, *FAITHFUL],
                         ids=IDS + [f"{m.haiku}-faithful" for m in FAITHFUL])
def test_haiku_leaves_exist_as_named(mapping):
    """Each rule's Haiku refs are all produced, in the declared collection, by some instance."""
    instances = _instances_of(mapping.haiku)
    assert instances, f"no catalogue entry uses {mapping.haiku}"
    collections = {}
    for entry in ENTRIES:
        for v in entry.trace().variables:
            collections[v.name] = collections.get(v.name, set()) | {v.collection}
    for rule in mapping.leaves:
        assert any(all(inst.has(r) for r in rule.haiku) for _, inst in instances), rule.haiku
        for ref in rule.haiku:
            assert rule.collection in collections[ref.rsplit("/", 1)[-1]], (ref, rule.collection)


@pytest.mark.parametrize("mapping", REAL, ids=[m.haiku for m in REAL])
def test_predicted_leaves_are_the_nnx_layer_leaves(mapping):
    checked = 0
    for entry_id, inst in _instances_of(mapping.haiku):
        layer = build(inst, abstract=True)
        if layer is None:  # a configuration NNX cannot express; the table notes say which
            assert mapping.notes, f"{mapping.haiku} skips {entry_id} without a note"
            continue
        actual = {path: (tuple(v.get_value().shape), type(v))
                  for path, v in nnx_variables(layer).items()}
        predicted = {}
        for rule in mapping.leaves:
            if not all(inst.has(r) for r in rule.haiku):
                continue
            shapes = rule.op.predict([inst.shape(r) for r in rule.haiku], inst.attrs)
            for target, shape in zip(rule.nnx, shapes, strict=True):
                kind = nnx.Param if rule.collection == "params" else nnx.BatchStat
                predicted[target] = (tuple(shape), kind)
        assert predicted == actual, f"{mapping.haiku} in catalogue entry {entry_id}"
        checked += 1
    assert checked, f"no catalogue instance of {mapping.haiku} could be checked"


def test_every_public_layer_with_leaves_is_in_the_table():
    """Leaves owned directly by a public Haiku class are claimed by some table entry."""
    mapped = {m.haiku for m in LAYERS}
    missing = set()
    for entry in ENTRIES:
        program = entry.trace()
        for v in program.variables:
            record = program.module(v.module)
            if record and record.cls.startswith("haiku.") and "._src." not in record.cls:
                if not mapped & set(record.bases):
                    missing.add(record.cls)
    assert not missing
