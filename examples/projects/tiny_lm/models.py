"""A small decoder-only transformer whose identical blocks are stacked with layer_stack."""

import haiku as hk
import jax
import jax.numpy as jnp


class Block(hk.Module):
    def __init__(self, d_model, num_heads, name=None):
        super().__init__(name=name)
        self.d_model = d_model
        self.num_heads = num_heads

    def __call__(self, x):
        causal = jnp.tril(jnp.ones((1, 1, x.shape[1], x.shape[1])))
        h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, name="ln1")(x)
        h = hk.MultiHeadAttention(
            num_heads=self.num_heads, key_size=self.d_model // self.num_heads,
            w_init=hk.initializers.VarianceScaling(1.0), name="attn")(h, h, h, mask=causal)
        x = x + h
        h = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, name="ln2")(x)
        h = jax.nn.gelu(hk.Linear(4 * self.d_model, name="up")(h))
        return x + hk.Linear(self.d_model, name="down")(h)


class TinyLM(hk.Module):
    def __init__(self, vocab_size, d_model=32, num_heads=4, num_layers=2, name=None):
        super().__init__(name=name)
        self.vocab_size = vocab_size
        self.d_model = d_model
        self.num_heads = num_heads
        self.num_layers = num_layers

    def __call__(self, tokens):
        x = hk.Embed(self.vocab_size, self.d_model, name="embed")(tokens)
        stack = hk.experimental.layer_stack(self.num_layers)(
            lambda y: Block(self.d_model, self.num_heads, name="block")(y))
        x = stack(x)
        x = hk.LayerNorm(axis=-1, create_scale=True, create_offset=True, name="ln_f")(x)
        return hk.Linear(self.vocab_size, name="head")(x)
