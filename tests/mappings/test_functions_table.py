"""Each entry of the compat function table against the installed haiku and the compat templates:
the converter renames `hk.X(...)` to `hkc.X(...)`, so every argument must keep its name/place."""

import importlib
import inspect

import pytest

from hk2nnx.compat.emit import available
from hk2nnx.mappings.functions import COMPAT_FUNCTIONS


def _haiku(qualname: str):
    module, _, name = qualname.rpartition(".")
    return getattr(importlib.import_module(module), name)


@pytest.mark.parametrize("entry", COMPAT_FUNCTIONS, ids=lambda e: e.haiku)
def test_compat_function_takes_haikus_arguments_in_order(entry):
    ours = _template(entry.compat)
    theirs = _haiku(entry.haiku)
    if inspect.isclass(theirs):  # a NamedTuple: the same fields in the same order
        assert theirs._fields == ours._fields
        return
    haiku_params = list(inspect.signature(theirs).parameters)
    compat_params = list(inspect.signature(ours).parameters)
    assert compat_params[: len(haiku_params)] == haiku_params


@pytest.mark.parametrize("entry", [e for e in COMPAT_FUNCTIONS if e.core_arg is not None],
                         ids=lambda e: e.haiku)
def test_core_argument_is_haikus_core(entry):
    names = list(inspect.signature(_haiku(entry.haiku)).parameters)
    assert names[entry.core_arg] == "core"


def _template(name: str):
    """The definition `_haiku_compat.py` would hold for `name`, from its template."""
    template = available()[name]
    module = importlib.import_module(f"hk2nnx.compat.templates.{template}")
    return getattr(module, name)
