"""Guide section "Basic Module definition": a classifier built from a reusable block."""

import haiku as hk
import jax
import jax.numpy as jnp


class Block(hk.Module):
    """Linear -> dropout -> relu."""

    def __init__(self, features: int, name=None):
        super().__init__(name=name)
        self.features = features

    def __call__(self, x, training: bool):
        x = hk.Linear(self.features)(x)
        x = hk.dropout(hk.next_rng_key(), 0.5 if training else 0.0, x)
        return jax.nn.relu(x)


class Classifier(hk.Module):
    def __init__(self, hidden: int, classes: int, name=None):
        super().__init__(name=name)
        self.hidden = hidden
        self.classes = classes

    def __call__(self, x, training: bool):
        x = Block(self.hidden)(x, training)
        return hk.Linear(self.classes)(x)


def forward(x, training: bool):
    return Classifier(64, 10)(x, training)


model = hk.transform(forward)
params = model.init(jax.random.key(0), jnp.ones((2, 32)), training=False)
