"""Trains the tiny language model for 20 steps on synthetic sequences and prints the losses."""

import haiku as hk
import jax
import jax.numpy as jnp
import optax
from data import SEQ_LEN, VOCAB, batches
from models import TinyLM


def forward(tokens):
    return TinyLM(VOCAB, name="lm")(tokens)


model = hk.without_apply_rng(hk.transform(forward))
params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, SEQ_LEN), jnp.int32))
optimizer = optax.adam(3e-3)
opt_state = optimizer.init(params)


@jax.jit
def update(params, opt_state, tokens, targets):
    def loss_fn(params):
        logits = model.apply(params, tokens)
        return optax.softmax_cross_entropy_with_integer_labels(logits, targets).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state, loss


def train(params, opt_state, steps=20):
    losses = []
    for tokens, targets in batches(0, steps):
        params, opt_state, loss = update(params, opt_state, tokens, targets)
        losses.append(float(loss))
    return losses


if __name__ == "__main__":
    print(train(params, opt_state))
