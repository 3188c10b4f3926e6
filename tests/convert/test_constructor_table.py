"""Every entry of the constructor and initializer tables, checked against the installed libraries."""

from __future__ import annotations

import importlib
import inspect

import haiku as hk
import pytest
from haiku._src.utils import camel_to_snake

from hk2nnx.convert.names import haiku_default_name
from hk2nnx.mappings.constructors import COMPAT, CONSTRUCTORS, INITIALIZER

_EMPTY = inspect.Parameter.empty


def _resolve(qualname: str):
    if qualname.startswith(COMPAT):  # a class of _haiku_compat.py: hk2nnx's template of it
        qualname = "hk2nnx.compat." + qualname.removeprefix(COMPAT)
    if qualname.startswith("nnx."):
        qualname = "flax." + qualname
    head, *rest = qualname.split(".")
    obj = importlib.import_module(head)
    for part in rest:
        obj = getattr(obj, part)
    return obj


def _params(fn) -> dict[str, inspect.Parameter]:
    params = dict(inspect.signature(fn).parameters)
    params.pop("self", None)
    return params


@pytest.mark.parametrize("entry", CONSTRUCTORS, ids=lambda e: e.haiku)
def test_constructor_arguments_match_the_installed_signatures(entry):
    haiku_params = _params(_resolve(entry.haiku).__init__)
    nnx_params = _params(_resolve(entry.nnx).__init__)
    assert [a.haiku for a in entry.args] == list(haiku_params), "every Haiku argument, in order"
    for arg in entry.args:
        if arg.nnx is not None:
            assert arg.nnx in nnx_params, f"{entry.nnx} has no {arg.nnx}"
        haiku_default = haiku_params[arg.haiku].default
        if arg.haiku_default is not None:
            assert arg.haiku_default == repr(haiku_default)
            assert repr(nnx_params[arg.nnx].default) != arg.haiku_default
        elif arg.nnx and arg.convert != INITIALIZER and haiku_default is not _EMPTY:
            nnx_default = nnx_params[arg.nnx].default
            if nnx_default is not _EMPTY and (nnx_default, haiku_default) != (None, 1):
                # (None is nnx.ConvTranspose's stride 1)
                assert nnx_default == haiku_default, f"{arg.haiku}: pass Haiku's default"
    for name in (entry.in_features, *entry.positional):
        if name:
            assert name in nnx_params
    positional = [n for n, p in nnx_params.items()
                  if p.kind == inspect.Parameter.POSITIONAL_OR_KEYWORD]
    assert list(entry.positional) == positional[: len(entry.positional)]
    if entry.out_features:
        assert entry.out_features in haiku_params


@pytest.mark.parametrize("entry", CONSTRUCTORS, ids=lambda e: e.haiku)
def test_call_arguments_match(entry):
    haiku_call = list(_params(_resolve(entry.haiku).__call__))
    nnx_call = _params(_resolve(entry.nnx).__call__)
    for call_arg in entry.call:
        assert haiku_call[call_arg.position] == call_arg.haiku
        if call_arg.nnx:
            assert call_arg.nnx in nnx_call


@pytest.mark.parametrize("entry", CONSTRUCTORS, ids=lambda e: e.haiku)
def test_default_module_names_follow_haiku(entry):
    name = entry.haiku_class_name
    assert haiku_default_name(name) == camel_to_snake(name)


@pytest.mark.parametrize("name", ["Conv2D", "MLPBlock", "RNNCell", "My__Mod", "ABc", "a1B",
                                  "VectorQuantizerEMA", "X"])
def test_snake_case_matches_haiku(name):
    assert haiku_default_name(name) == camel_to_snake(name)


@pytest.mark.parametrize("entry", CONSTRUCTORS, ids=lambda e: e.haiku)
def test_every_initializer_argument_names_a_leaf_with_a_haiku_default(entry):
    """Faithful mode passes Haiku's default for the leaf; the one table must know it."""
    from hk2nnx.compat.initializers import layer_default

    if entry.compat_only:
        pytest.skip("a compat class applies Haiku's defaults itself")
    for arg in entry.args:
        if arg.convert == INITIALIZER:
            assert arg.leaf and layer_default(entry.haiku, arg.leaf) is not None, arg.haiku


def test_tables_cover_the_layers_the_port_knows():
    from hk2nnx.mappings.layers import BY_HAIKU

    for entry in (e for e in CONSTRUCTORS if e.holds_variables):
        assert entry.haiku in BY_HAIKU, f"{entry.haiku} has no leaf mapping to port weights"
    assert hk.Linear is _resolve("haiku.Linear")
