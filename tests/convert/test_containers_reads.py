"""Params reads of modules an nnx.List / nnx.Sequential holds are marked, never mis-pathed."""

from __future__ import annotations

import textwrap

from hk2nnx.convert import convert_source

SOURCE = textwrap.dedent('''
    import haiku as hk
    import jax
    import jax.numpy as jnp


    def forward(x):
        x = hk.Linear(4)(x)
        for n in (3, 3):
            x = hk.Linear(n, name="dense")(x)
        return hk.nets.MLP([2])(x)


    model = hk.transform(forward)
    params = model.init(jax.random.key(0), jnp.ones((1, 5)))
    a = params["linear"]["w"]
    b = params["dense_1"]["w"]
    c = params["mlp/~/linear_0"]["b"]
''')


def test_reads_into_containers_are_marked_and_others_converted():
    code = convert_source(SOURCE, mode="idiomatic").code
    assert "a = model.linear.kernel[...]" in code
    lines = code.splitlines()
    for read in ('b = params["dense_1"]["w"]', 'c = params["mlp/~/linear_0"]["b"]'):
        assert lines[lines.index(read) - 1].lstrip().startswith("# TODO(hk2nnx): params")
    assert "for linear in self.denses:" in code
