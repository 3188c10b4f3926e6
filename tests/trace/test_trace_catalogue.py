"""Trace invariants over the whole catalogue, checked against Haiku itself."""

import keyword

import jax
import pytest
from catalogue import BY_ID, ENTRIES

from hk2nnx.port.plan import program_moves
from hk2nnx.program.model import TensorSpec
from hk2nnx.program.summary import summary
from hk2nnx.trace.tracer import abstract_init

IDS = [e.id for e in ENTRIES]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_trace_records_exactly_what_haiku_init_creates(entry):
    params, state = abstract_init(entry.transformed(), *entry.specs, **entry.kwargs)
    expected = {
        (module, name): (collection, str(TensorSpec.of(value)))
        for collection, tree in (("params", params), ("state", state))
        for module, leaves in tree.items() for name, value in leaves.items()
    }
    recorded = {v.haiku_key: (v.collection, str(v.spec)) for v in entry.trace().variables}
    assert recorded == expected


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_nnx_paths_are_identifiers_and_never_collide(entry):
    program = entry.trace()
    targets = [t for move in program_moves(program) for t in move.nnx]
    assert len(targets) == len(set(targets))
    for path in targets:
        for part in path.split("."):
            assert part.isidentifier() and not keyword.iskeyword(part), path
    assert {t for v in program.variables for t in v.nnx_path.split(",")} == set(targets)


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_stacked_axes_match_layer_stack_sizes(entry):
    program = entry.trace()
    sizes = [int(t.detail.split("=")[1]) for t in program.transforms if t.kind == "layer_stack"]
    for v in program.variables:
        assert v.stacked <= len(sizes)
        if v.stacked:
            assert v.spec.shape[:v.stacked] == tuple(sizes[:v.stacked]), v


def test_summary_is_reproducible_and_free_of_addresses():
    entry = BY_ID["Recurrent-LSTM-dynamic_unroll"]  # its module args hold function reprs
    first = summary(entry.trace())
    assert first == summary(entry.trace()) and " at 0x" not in first
    assert " at 0x" not in entry.trace().to_json()


def test_summary_counts_parameters_per_module():
    program = BY_ID["nets.MLP"].trace()
    text = summary(program)
    assert f"{program.parameter_count():,} parameters" in text
    params = jax.tree.leaves(abstract_init(BY_ID["nets.MLP"].transformed(),
                                           *BY_ID["nets.MLP"].specs)[0])
    assert program.parameter_count() == sum(p.size for p in params)
    row = next(line for line in text.splitlines() if line.strip().startswith("mlp/~/linear_0 "))
    assert row.split()[-2] == str(program.parameter_count("mlp/~/linear_0"))


def test_scopes_get_distinct_nnx_names():
    paths = {v.haiku_key: v.nnx_path for v in BY_ID["scopes"].trace().variables}
    assert paths[("a/~/b", "w")] == "b.kernel"
    assert paths[("a/b", "w")] == "b_call.kernel"
    assert paths[("a/~encode/b", "w")] == "b_encode.kernel"


def test_non_identifier_parameter_names_are_sanitised():
    paths = {v.name: v.nnx_path for v in BY_ID["raw_parameters"].trace().variables}
    assert paths == {"weight matrix": "weight_matrix", "class": "class_"}


@pytest.mark.parametrize("entry_id, kind, detail", [
    ("lift", "lift", "name='inner'"),
    ("vmap", "vmap", "split_rng=False"),
    ("scan", "scan", ""),
    ("remat", "remat", ""),
    ("dropout", "dropout", "rate=0.5"),
    ("layer_stack", "layer_stack", "num_layers=3"),
    ("lstm_unroll", "dynamic_unroll", ""),
])
def test_transforms_are_recorded(entry_id, kind, detail):
    records = [t for t in BY_ID[entry_id].trace().transforms if t.kind == kind]
    assert records and detail in records[0].detail


def test_named_and_nested_layer_stacks_count_as_stacked_axes():
    program = BY_ID["layer_stack_nested"].trace()
    assert program.stack_scopes == {"outer", "outer/inner"}
    (w,) = [v for v in program.variables if v.name == "w"]
    assert (w.stacked, w.nnx_path, program.root) == (2, "linear.kernel", "block")


def test_rng_users():
    assert BY_ID["dropout"].trace().rng_users == ("~",)
    assert BY_ID["rng_alias"].trace().rng_users == ("noisy",)  # key source, not `hk.` alias
    assert BY_ID["resnet18"].trace().rng_users == ()  # initialisers' keys do not count
