"""add_imports places imports exactly where libcst's AddImportsVisitor does, text for text."""

from __future__ import annotations

import itertools

import libcst as cst
import pytest
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from hk2nnx.convert.add_imports import add_imports
from hk2nnx.convert.imports import PROVIDERS

FIRSTS = ["", '"""Doc."""\n', "__strict__ = True\n", "# lead comment\n\n"]
HEADS = ["", "import haiku as hk\n", "from flax import linen\n", "import jax\nimport numpy as np\n",
         "from flax import nnx\n", "from flax import *\n", "import jax.numpy as jnp\n",
         "import jax.numpy as np2\nfrom flax import (linen,)\n", "from . import sibling\n",
         "import os; import sys\n", "from flax import linen as nn, struct\n",
         "import _haiku_compat as hkc\nfrom __future__ import annotations\n"]
TAILS = ["", "x = 1\n", "\nclass A:\n    pass\n", "# note\nprint(1)\n", "def f():\n    import jax\n"]
WANTED = [["nnx"], ["jax", "nnx"], ["hkc", "jax", "jnp", "nnx"], ["jnp"], ["hkc"]]


def _reference(source: str, names: list[str]) -> str:
    context = CodemodContext()
    for name in names:
        AddImportsVisitor.add_needed_import(context, *PROVIDERS[name])
    return AddImportsVisitor(context).transform_module(cst.parse_module(source)).code


CASES = list(itertools.product(FIRSTS, HEADS))


@pytest.mark.parametrize("first,head", CASES)
def test_same_text_as_libcst(first, head):
    k = CASES.index((first, head))  # every tail and every wanted set, over all the cases
    for i in range(2):
        tail, names = TAILS[(k + i) % len(TAILS)], WANTED[(k // 2 + i) % len(WANTED)]
        source = first + head + tail
        got = add_imports(cst.parse_module(source), [PROVIDERS[n] for n in names]).code
        assert got == _reference(source, names), (source, names)


def test_aliased_from_imports_are_refused():
    with pytest.raises(ValueError):
        add_imports(cst.parse_module(""), [("flax", "nnx", "fnnx")])
