"""The default kernel init faithful mode writes (`truncated_normal(fan_in ** -0.5)`) draws from
the Haiku layer's own default law: convert a layer, build it, compare its kernel to Haiku's."""

import re

import jax
import numpy as np
import pytest
from law import law_faults
from test_compat_layer_defaults import BUILDERS, _haiku_leaf

from hk2nnx.convert import convert_source

# layer -> its construction in Haiku source (the same arguments as the BUILDERS entry)
LAYERS = {
    "haiku.Linear": "hk.Linear(200)",
    "haiku.Conv1D": "hk.Conv1D(60, 3)",
    "haiku.Conv2D": "hk.Conv2D(50, 3)",
    "haiku.Conv3D": "hk.Conv3D(35, 3)",
    "haiku.DepthwiseConv1D": "hk.DepthwiseConv1D(20, 3)",
    "haiku.DepthwiseConv2D": "hk.DepthwiseConv2D(20, 3)",
    "haiku.DepthwiseConv3D": "hk.DepthwiseConv3D(7, 3)",
    "haiku.Conv1DTranspose": "hk.Conv1DTranspose(60, 3)",
    "haiku.Conv2DTranspose": "hk.Conv2DTranspose(50, 3)",
    "haiku.Conv3DTranspose": "hk.Conv3DTranspose(35, 3)",
}
_SOURCE = """
import haiku as hk
import jax
import jax.numpy as jnp


class Model(hk.Module):
    def __call__(self, x):
        return {layer}(x)


def forward(x):
    return Model()(x)


net = hk.transform(forward)
params = net.init(jax.random.PRNGKey(0), jnp.ones({shape}))
"""


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_converted_default_kernel_init_is_haikus(layer):
    shape = BUILDERS[layer][1]
    result = convert_source(_SOURCE.format(layer=LAYERS[layer], shape=shape), mode="faithful")
    assert re.search(r"kernel_init=jax\.nn\.initializers\.truncated_normal\(", result.code)
    assert max(len(line) for line in result.code.splitlines()) <= 100, result.code
    namespace: dict = {}
    exec(compile(result.code, layer, "exec"), namespace)  # noqa: S102  (our own conversion)
    model = namespace["net"]
    (kernel,) = [np.asarray(v[...]) for path, v in jax.tree_util.tree_leaves_with_path(
        model, is_leaf=lambda x: hasattr(x, "get_value")) if "kernel" in str(path)]
    expected = _haiku_leaf(layer, "w")
    if layer.endswith("Transpose"):  # NNX's (..., in, out)
        expected = np.swapaxes(expected, -1, -2)
    assert kernel.shape == expected.shape
    faults = law_faults(expected, kernel, bounded=True)
    assert not faults, faults
