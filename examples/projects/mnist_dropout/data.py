"""Synthetic MNIST-shaped batches: 28x28 images whose label is a fixed linear readout."""

import numpy as np


def batches(seed, steps, batch_size=32):
    rng = np.random.default_rng(seed)
    readout = rng.normal(size=(28 * 28, 10)).astype(np.float32)
    for _ in range(steps):
        images = rng.normal(size=(batch_size, 28, 28)).astype(np.float32)
        labels = np.argmax(images.reshape(batch_size, -1) @ readout, axis=-1)
        yield images, labels.astype(np.int32)
