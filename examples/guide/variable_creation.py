"""Guide section "Variable creation": parameters come from init and are read as a nested dict."""

import haiku as hk
import jax
import jax.numpy as jnp


class TwoLayer(hk.Module):
    def __init__(self, width: int, out: int, name=None):
        super().__init__(name=name)
        self.width = width
        self.out = out

    def __call__(self, x):
        x = jax.nn.gelu(hk.Linear(self.width)(x))
        return hk.Linear(self.out)(x)


def forward(x):
    return TwoLayer(48, 6)(x)


model = hk.transform(forward)
sample = jnp.ones((3, 20))
params = model.init(jax.random.key(1), sample)

assert params["two_layer/linear"]["w"].shape == (20, 48)
assert params["two_layer/linear_1"]["b"].shape == (6,)
