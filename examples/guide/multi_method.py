"""Guide section "Using multiple methods": an autoencoder whose encode and decode are applied apart."""

import haiku as hk
import jax
import jax.numpy as jnp


class AutoEncoder(hk.Module):
    def __init__(self, code_size: int, data_size: int, name=None):
        super().__init__(name=name)
        self.to_code = hk.Linear(code_size, name="to_code")
        self.to_data = hk.Linear(data_size, name="to_data")

    def encode(self, x):
        return jnp.tanh(self.to_code(x))

    def decode(self, z):
        return self.to_data(z)

    def __call__(self, x):
        return self.decode(self.encode(x))


def forward():
    module = AutoEncoder(8, 30)
    return module, (module.encode, module.decode)


model = hk.multi_transform(forward)
params = model.init(jax.random.key(0), jnp.ones((2, 30)))
encode, decode = model.apply
codes = encode(params, None, jnp.ones((2, 30)))
