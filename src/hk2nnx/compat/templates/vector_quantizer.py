"""hk.nets.VectorQuantizer and VectorQuantizerEMA (VQ-VAE codebooks): Flax has neither."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.moving_average import ExponentialMovingAverage


def nearest_codes(inputs: jax.Array, embeddings: jax.Array) -> dict[str, jax.Array]:
    """Distances to every code (D x K codebook), the nearest code and its one-hot encoding."""
    flat_inputs = jnp.reshape(inputs, [-1, embeddings.shape[0]])
    distances = (jnp.sum(jnp.square(flat_inputs), 1, keepdims=True)
                 - 2 * jnp.matmul(flat_inputs, embeddings)
                 + jnp.sum(jnp.square(embeddings), 0, keepdims=True))
    encoding_indices = jnp.argmax(-distances, 1)
    encodings = jax.nn.one_hot(encoding_indices, embeddings.shape[1], dtype=distances.dtype)
    return {"flat_inputs": flat_inputs, "distances": distances, "encodings": encodings,
            "encoding_indices": jnp.reshape(encoding_indices, inputs.shape[:-1])}


def quantizer_outputs(inputs: jax.Array, quantized: jax.Array, loss: jax.Array,
                      codes: dict[str, jax.Array]) -> dict[str, jax.Array]:
    """Haiku's output dict: straight-through quantized values, loss and codebook perplexity."""
    avg_probs = jnp.mean(codes["encodings"], 0)
    return {
        "quantize": inputs + jax.lax.stop_gradient(quantized - inputs),
        "loss": loss,
        "perplexity": jnp.exp(-jnp.sum(avg_probs * jnp.log(avg_probs + 1e-10))),
        "encodings": codes["encodings"],
        "encoding_indices": codes["encoding_indices"],
        "distances": codes["distances"],
    }


class VectorQuantizer(nnx.Module):
    """hk.nets.VectorQuantizer: a (embedding_dim x num_embeddings) codebook learned by loss."""

    def __init__(self, embedding_dim: int, num_embeddings: int, commitment_cost: float,
                 dtype: Any = jnp.float32, *, rngs: nnx.Rngs):
        self.embedding_dim = embedding_dim
        self.num_embeddings = num_embeddings
        self.commitment_cost = commitment_cost
        init = jax.nn.initializers.variance_scaling(1.0, "fan_in", "uniform")
        self.embeddings = nnx.Param(init(rngs.params(), (embedding_dim, num_embeddings), dtype))

    def __call__(self, inputs: jax.Array) -> dict[str, jax.Array]:
        """Haiku's `is_training` changes nothing here, so it is not taken."""
        codes = nearest_codes(inputs, self.embeddings[...])
        quantized = self.quantize(codes["encoding_indices"])
        e_latent_loss = jnp.mean(jnp.square(jax.lax.stop_gradient(quantized) - inputs))
        q_latent_loss = jnp.mean(jnp.square(quantized - jax.lax.stop_gradient(inputs)))
        loss = q_latent_loss + self.commitment_cost * e_latent_loss
        return quantizer_outputs(inputs, quantized, loss, codes)

    def quantize(self, encoding_indices: jax.Array) -> jax.Array:
        return self.embeddings[...].swapaxes(1, 0)[(encoding_indices,)]


class VectorQuantizerEMA(nnx.Module):
    """hk.nets.VectorQuantizerEMA: the codebook is state, moved by zero-debiased EMAs."""

    def __init__(self, embedding_dim: int, num_embeddings: int, commitment_cost: float,
                 decay: float, epsilon: float = 1e-5, dtype: Any = jnp.float32, *,
                 use_running_average: bool = False, rngs: nnx.Rngs):
        if not 0 <= decay <= 1:
            raise ValueError("decay must be in range [0, 1]")
        self.embedding_dim = embedding_dim
        self.num_embeddings = num_embeddings
        self.commitment_cost = commitment_cost
        self.epsilon = epsilon
        self.use_running_average = use_running_average
        shape = (embedding_dim, num_embeddings)
        init = jax.nn.initializers.variance_scaling(1.0, "fan_in", "uniform")
        self.embeddings = nnx.BatchStat(init(rngs.params(), shape, dtype))
        self.ema_cluster_size = ExponentialMovingAverage(decay, shape=(num_embeddings,),
                                                         dtype=dtype)
        self.ema_dw = ExponentialMovingAverage(decay, shape=shape, dtype=dtype)

    def __call__(self, inputs: jax.Array,
                 use_running_average: bool | None = None) -> dict[str, jax.Array]:
        """Haiku's `is_training` is `not use_running_average` (or `model.train()`)."""
        if use_running_average is None:
            use_running_average = self.use_running_average
        codes = nearest_codes(inputs, self.embeddings[...])
        quantized = self.quantize(codes["encoding_indices"])
        e_latent_loss = jnp.mean(jnp.square(jax.lax.stop_gradient(quantized) - inputs))
        if not use_running_average:
            self._update_codebook(codes)
        loss = self.commitment_cost * e_latent_loss
        return quantizer_outputs(inputs, quantized, loss, codes)

    def _update_codebook(self, codes: dict[str, jax.Array]) -> None:
        cluster_size = self.ema_cluster_size(jnp.sum(codes["encodings"], axis=0))
        dw = self.ema_dw(jnp.matmul(codes["flat_inputs"].T, codes["encodings"]))
        n = jnp.sum(cluster_size)
        cluster_size = ((cluster_size + self.epsilon)
                        / (n + self.num_embeddings * self.epsilon) * n)
        self.embeddings[...] = dw / jnp.reshape(cluster_size, [1, -1])

    def quantize(self, encoding_indices: jax.Array) -> jax.Array:
        return self.embeddings[...].swapaxes(1, 0)[(encoding_indices,)]
