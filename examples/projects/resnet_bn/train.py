"""Trains the ResNet with transform_with_state for 20 steps and prints the losses."""

import haiku as hk
import jax
import jax.numpy as jnp
import optax
from data import batches
from models import ResNet


def forward(images, is_training):
    return ResNet(4, name="resnet")(images, is_training)


model = hk.without_apply_rng(hk.transform_with_state(forward))
params, state = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 16, 16, 3)), True)
optimizer = optax.sgd(0.05, momentum=0.9)
opt_state = optimizer.init(params)


@jax.jit
def update(params, state, opt_state, images, labels):
    def loss_fn(params):
        logits, new_state = model.apply(params, state, images, True)
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
        return loss, new_state

    (loss, state), grads = jax.value_and_grad(loss_fn, has_aux=True)(params)
    updates, opt_state = optimizer.update(grads, opt_state, params)
    params = optax.apply_updates(params, updates)
    return params, state, opt_state, loss


def train(params, state, opt_state, steps=20):
    losses = []
    for images, labels in batches(0, steps):
        params, state, opt_state, loss = update(params, state, opt_state, images, labels)
        losses.append(float(loss))
    return losses


if __name__ == "__main__":
    print(train(params, state, opt_state))
