"""Guide section "Transformations": a recurrent cell run over time with hk.scan."""

import haiku as hk
import jax
import jax.numpy as jnp


class Cell(hk.Module):
    def __init__(self, hidden: int, name=None):
        super().__init__(name=name)
        self.hidden = hidden

    def __call__(self, carry, x):
        h = jnp.tanh(hk.Linear(self.hidden)(jnp.concatenate([carry, x], axis=-1)))
        return h, h

    def initial_state(self, batch: int):
        return jnp.zeros((batch, self.hidden))


class Recurrent(hk.Module):
    def __init__(self, hidden: int, name=None):
        super().__init__(name=name)
        self.hidden = hidden

    def __call__(self, x):
        cell = Cell(self.hidden)
        carry = cell.initial_state(x.shape[0])
        carry, ys = hk.scan(cell, carry, jnp.swapaxes(x, 0, 1))
        return jnp.swapaxes(ys, 0, 1)


def forward(x):
    return Recurrent(10)(x)


model = hk.transform(forward)
params = model.init(jax.random.key(0), jnp.ones((2, 5, 3)))
