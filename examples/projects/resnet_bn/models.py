"""A small ResNet: convolutions with BatchNorm, residual blocks, global average pooling."""

import haiku as hk
import jax
import jax.numpy as jnp


class ResBlock(hk.Module):
    def __init__(self, channels, name=None):
        super().__init__(name=name)
        self.channels = channels

    def __call__(self, x, is_training):
        h = hk.Conv2D(self.channels, 3, with_bias=False, name="conv1")(x)
        h = hk.BatchNorm(True, True, 0.9, name="bn1")(h, is_training)
        h = jax.nn.relu(h)
        h = hk.Conv2D(self.channels, 3, with_bias=False, name="conv2")(h)
        h = hk.BatchNorm(True, True, 0.9, name="bn2")(h, is_training)
        return jax.nn.relu(x + h)


class ResNet(hk.Module):
    def __init__(self, num_classes, channels=16, name=None):
        super().__init__(name=name)
        self.num_classes = num_classes
        self.channels = channels

    def __call__(self, x, is_training):
        x = hk.Conv2D(self.channels, 3, with_bias=False, name="stem")(x)
        x = hk.BatchNorm(True, True, 0.9, name="stem_bn")(x, is_training)
        x = jax.nn.relu(x)
        x = ResBlock(self.channels, name="block1")(x, is_training)
        x = ResBlock(self.channels, name="block2")(x, is_training)
        x = jnp.mean(x, axis=(1, 2))
        return hk.Linear(self.num_classes, name="head")(x)
