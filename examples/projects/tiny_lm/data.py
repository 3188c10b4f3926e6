"""Synthetic token sequences: a noisy counting language the model can learn in a few steps."""

import numpy as np

VOCAB = 32
SEQ_LEN = 16


def batches(seed, steps, batch_size=8):
    rng = np.random.default_rng(seed)
    for _ in range(steps):
        start = rng.integers(0, VOCAB, size=(batch_size, 1))
        tokens = (start + np.arange(SEQ_LEN + 1)) % VOCAB
        yield tokens[:, :-1].astype(np.int32), tokens[:, 1:].astype(np.int32)
