"""Guide section "Training step and compilation": a jitted SGD step over the params tree."""

import haiku as hk
import jax
import jax.numpy as jnp
import optax


class Regressor(hk.Module):
    def __call__(self, x, training: bool):
        x = jax.nn.relu(hk.Linear(16)(x))
        x = hk.dropout(hk.next_rng_key(), 0.1 if training else 0.0, x)
        return hk.Linear(3)(x)


def forward(x, training: bool):
    return Regressor()(x, training)


model = hk.transform(forward)
sample = jnp.ones((4, 8))
params = model.init(jax.random.key(0), sample, training=False)


@jax.jit
def train_step(key, params, inputs, labels):
    def loss_fn(params):
        logits = model.apply(params, key, inputs, training=True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    grads = jax.grad(loss_fn)(params)
    return jax.tree.map(lambda p, g: p - 0.05 * g, params, grads)


params = train_step(jax.random.key(1), params, sample, jnp.zeros((4,), jnp.int32))
