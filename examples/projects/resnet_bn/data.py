"""Synthetic 16x16 RGB images labelled by the sign of their mean colour channels."""

import numpy as np


def batches(seed, steps, batch_size=8):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        images = rng.normal(size=(batch_size, 16, 16, 3)).astype(np.float32)
        labels = (images.mean(axis=(1, 2)) > 0).astype(np.int32) @ np.array([1, 2, 4])
        yield images, labels.astype(np.int32) % 4
