"""Guide section "Scan over layers": one block definition, its parameters stacked N times."""

import haiku as hk
import jax
import jax.numpy as jnp


class Residual(hk.Module):
    def __init__(self, width: int, name=None):
        super().__init__(name=name)
        self.width = width

    def __call__(self, x):
        return x + jax.nn.relu(hk.Linear(self.width)(x))


class Tower(hk.Module):
    def __init__(self, width: int, depth: int, name=None):
        super().__init__(name=name)
        self.width = width
        self.depth = depth

    def __call__(self, x):
        @hk.experimental.layer_stack(self.depth)
        def body(x):
            return Residual(self.width)(x)

        return body(x)


def forward(x):
    return Tower(16, depth=4)(x)


model = hk.transform(forward)
params = model.init(jax.random.key(0), jnp.ones((2, 16)))
