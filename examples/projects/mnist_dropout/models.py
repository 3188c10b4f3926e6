"""An MLP classifier with dropout between its hidden layers."""

import haiku as hk
import jax


class Classifier(hk.Module):
    def __init__(self, dropout_rate, name=None):
        super().__init__(name=name)
        self.dropout_rate = dropout_rate

    def __call__(self, images, is_training):
        x = hk.Flatten()(images)
        x = jax.nn.relu(hk.Linear(128, name="hidden1")(x))
        if is_training:
            x = hk.dropout(hk.next_rng_key(), self.dropout_rate, x)
        x = jax.nn.relu(hk.Linear(64, name="hidden2")(x))
        if is_training:
            x = hk.dropout(hk.next_rng_key(), self.dropout_rate, x)
        return hk.Linear(10, name="logits")(x)
