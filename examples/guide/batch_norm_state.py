"""Guide section "Handling non-parameter states": BatchNorm statistics live in Haiku state."""

import haiku as hk
import jax
import jax.numpy as jnp


class NormedBlock(hk.Module):
    def __init__(self, features: int, name=None):
        super().__init__(name=name)
        self.features = features

    def __call__(self, x, training: bool):
        x = hk.Linear(self.features)(x)
        x = hk.BatchNorm(create_scale=True, create_offset=True, decay_rate=0.9)(
            x, is_training=training
        )
        return jax.nn.relu(x)


def forward(x, training: bool):
    x = NormedBlock(12)(x, training)
    return hk.Linear(2)(x)


model = hk.transform_with_state(forward)
sample = jnp.ones((5, 7))
params, batch_stats = model.init(jax.random.key(0), sample, training=True)
