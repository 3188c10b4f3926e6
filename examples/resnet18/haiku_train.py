"""A small "real" Haiku training run: hk.nets.ResNet18 trained a few steps, saved as a pickle.

This is the starting point of the new-user flow: a trained Haiku checkpoint (params plus the
BatchNorm moving averages in `state`) that `hk2nnx port` moves into the hand-written NNX model in
`nnx_resnet18.py`. Training a few steps matters: at init every BatchNorm average is zero, which
would hide a wrong mean/var mapping, and the logits weights start at zero.

    python examples/resnet18/haiku_train.py OUT.pkl
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Mapping
from pathlib import Path

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
import optax

NUM_CLASSES = 10
INPUT_SHAPE = (8, 32, 32, 3)  # small synthetic CIFAR-like batch, NHWC
TRAIN_STEPS = 3
LEARNING_RATE = 0.05
SEED = 0


def forward(x: jax.Array, is_training: bool) -> jax.Array:
    """Logits of hk.nets.ResNet18; `is_training` picks batch statistics and EMA updates."""
    return hk.nets.ResNet18(num_classes=NUM_CLASSES)(x, is_training=is_training)


model = hk.transform_with_state(forward)


def synthetic_batch(seed: int = SEED) -> tuple[jax.Array, jax.Array]:
    """Deterministic images (off-centre, so BatchNorm means are not ~0) and random labels."""
    image_key, label_key = jax.random.split(jax.random.key(seed))
    images = jax.random.normal(image_key, INPUT_SHAPE, jnp.float32) * 2.0 + 0.5
    labels = jax.random.randint(label_key, INPUT_SHAPE[:1], 0, NUM_CLASSES)
    return images, labels


def _loss(params: hk.Params, state: hk.State, images: jax.Array,
          labels: jax.Array) -> tuple[jax.Array, hk.State]:
    logits, new_state = model.apply(params, state, None, images, is_training=True)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()
    return loss, new_state


def train(steps: int = TRAIN_STEPS, seed: int = SEED) -> tuple[hk.Params, hk.State, list[float]]:
    """Initializes and trains ResNet18 with SGD+momentum; returns params, state and losses.

    Init runs with is_training=True: Haiku's BatchNorm creates its moving averages only then.
    """
    images, labels = synthetic_batch(seed)
    # One compile rather than one per op; the "rbg" PRNG compiles far faster than threefry on CPU.
    init = jax.jit(model.init, static_argnames="is_training")
    params, state = init(jax.random.key(seed, impl="rbg"), images, is_training=True)
    optimizer = optax.sgd(LEARNING_RATE, momentum=0.9)
    opt_state = optimizer.init(params)

    @jax.jit
    def step(params, state, opt_state):
        (loss, state), grads = jax.value_and_grad(_loss, has_aux=True)(
            params, state, images, labels)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), state, opt_state, loss

    losses = []
    for _ in range(steps):
        params, state, opt_state, loss = step(params, state, opt_state)
        losses.append(float(loss))
    return params, state, losses


def to_numpy_tree(tree: Mapping[str, Mapping[str, jax.Array]]) -> dict[str, dict[str, np.ndarray]]:
    """Plain dicts of numpy arrays: the checkpoint then loads without jax or haiku installed."""
    return {module: {name: np.asarray(jax.device_get(value)) for name, value in leaves.items()}
            for module, leaves in tree.items()}


def save_checkpoint(path: str | Path, params: hk.Params, state: hk.State) -> Path:
    """Pickles {"params": ..., "state": ...} as numpy arrays, the common Haiku habit."""
    path = Path(path)
    payload = {"params": to_numpy_tree(params), "state": to_numpy_tree(state)}
    with path.open("wb") as f:
        pickle.dump(payload, f, protocol=pickle.HIGHEST_PROTOCOL)
    return path


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python examples/resnet18/haiku_train.py OUT.pkl", file=sys.stderr)
        return 2
    params, state, losses = train()
    out = save_checkpoint(argv[0], params, state)
    print(f"losses {', '.join(f'{x:.4f}' for x in losses)}; wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
