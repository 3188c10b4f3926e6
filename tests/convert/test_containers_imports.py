"""Imports: the conversion drops those it left unused, never those the user left unused."""

from __future__ import annotations

import textwrap

from hk2nnx.convert import convert_source

SOURCE = textwrap.dedent('''
    import os
    import haiku as hk
    import jax
    import jax.numpy as jnp
    import numpy as np


    def forward(x):
        return hk.Linear(2)(jax.nn.relu(hk.Linear(3)(x)))


    model = hk.transform(forward)
    params = model.init(jax.random.key(0), jnp.ones((1, 3)))
''')


def _imports(code: str) -> list[str]:
    return [ln for ln in code.splitlines() if ln.startswith(("import ", "from "))]


def test_imports_the_conversion_left_unused_go_and_the_users_stay():
    code = convert_source(SOURCE, mode="idiomatic").code
    assert _imports(code) == ["import os", "import jax", "import numpy as np", "from flax import nnx"]


def test_a_name_still_mentioned_keeps_its_import():
    source = SOURCE + "note = 'jnp arrays'  # jax\n"
    code = convert_source(source, mode="idiomatic").code
    assert "import jax.numpy as jnp" in _imports(code) and "import jax" in _imports(code)
