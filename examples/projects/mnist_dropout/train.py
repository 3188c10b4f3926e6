"""Trains the classifier for 20 steps on synthetic data and prints the losses."""

import os

import haiku as hk
import jax
import jax.numpy as jnp
import optax
from data import batches
from models import Classifier

DROPOUT_RATE = float(os.environ.get("DROPOUT_RATE", "0.1"))


def forward(images, is_training):
    return Classifier(DROPOUT_RATE, name="classifier")(images, is_training)


model = hk.transform(forward)
params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 28, 28)), True)
optimizer = optax.adam(1e-3)
opt_state = optimizer.init(params)


@jax.jit
def update(params, opt_state, rng, images, labels):
    def loss_fn(params):
        logits = model.apply(params, rng, images, True)
        return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()

    loss, grads = jax.value_and_grad(loss_fn)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, opt_state, loss


def train(params, opt_state, steps=20):
    keys = hk.PRNGSequence(1)
    losses = []
    for images, labels in batches(0, steps):
        params, opt_state, loss = update(params, opt_state, next(keys), images, labels)
        losses.append(float(loss))
    return losses


if __name__ == "__main__":
    print(train(params, opt_state))
