"""hk.nets.ResNet (V1/V2, plain or bottleneck blocks) and ResNet18..200: Flax has no ResNet.

Children keep Haiku's names (`initial_conv`, `block_group_i.block_j.conv_k`, `batchnorm_k`,
`shortcut_conv`, `logits`, ...) so a ported Haiku checkpoint loads as is; batch norms are
Haiku's zero-debiased ones, so training continues exactly as in Haiku.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from hk2nnx.compat.templates.batch_norm import BatchNorm
from hk2nnx.compat.templates.inits import HAIKU_LINEAR_INIT

_BN_KEYS = ("decay_rate", "eps", "create_scale", "create_offset")
_CONV_KEYS = ("output_channels", "kernel_shape", "stride", "with_bias", "padding", "name")


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def _checked(config: Mapping[str, Any] | None, allowed: tuple[str, ...], what: str) -> dict:
    """A copy of a Haiku config dict, refusing keys whose values (Haiku initializers, other
    names) would not mean the same thing here."""
    config = dict(config or {})
    unknown = sorted(set(config) - set(allowed))
    if unknown:
        raise ValueError(f"{what} keys {unknown} are not supported; supported: {list(allowed)}")
    return config


def _resnet_conv(c_in: int, c_out: int, kernel: int | Sequence[int], stride: Any, rngs: nnx.Rngs,
                padding: Any = "SAME", use_bias: bool = False) -> nnx.Conv:
    """hk.Conv2D as ResNet builds it: Haiku's default init, 'SAME' even when strided."""
    return nnx.Conv(c_in, c_out, _pair(kernel), strides=_pair(stride), padding=padding,
                    use_bias=use_bias, kernel_init=HAIKU_LINEAR_INIT, rngs=rngs)


class _ResNetBlock(nnx.Module):
    """Haiku's BlockV1 (post-activation) or BlockV2 (pre-activation), optionally bottlenecked."""

    def __init__(self, c_in: int, channels: int, stride: int, use_projection: bool,
                 bn_config: dict, bottleneck: bool, resnet_v2: bool, *, rngs: nnx.Rngs):
        self.use_projection = use_projection
        self.resnet_v2 = resnet_v2
        if use_projection:
            self.shortcut_conv = _resnet_conv(c_in, channels, 1, stride, rngs)
            if not resnet_v2:
                self.shortcut_batchnorm = BatchNorm(**bn_config, num_features=channels,
                                                    rngs=rngs)
        inner = channels // 4 if bottleneck else channels
        shapes = ([(c_in, inner, 1, 1), (inner, inner, 3, stride), (inner, channels, 1, 1)]
                  if bottleneck else [(c_in, inner, 3, stride), (inner, channels, 3, 1)])
        self.num_layers = len(shapes)
        for i, (fan_in, fan_out, kernel, conv_stride) in enumerate(shapes):
            setattr(self, f"conv_{i}", _resnet_conv(fan_in, fan_out, kernel, conv_stride, rngs))
            features = fan_in if resnet_v2 else fan_out  # V2 normalises before the conv
            last_v1 = bottleneck and i == 2 and not resnet_v2
            setattr(self, f"batchnorm_{i}", BatchNorm(
                **bn_config, num_features=features, rngs=rngs,
                scale_init=jax.nn.initializers.zeros if last_v1 else None))

    def __call__(self, inputs: jax.Array, use_running_average: bool | None,
                 test_local_stats: bool) -> jax.Array:
        def norm(i: int, x: jax.Array) -> jax.Array:
            layer = getattr(self, f"batchnorm_{i}")
            return layer(x, use_running_average, test_local_stats=test_local_stats)

        out = shortcut = inputs
        if not self.resnet_v2:
            if self.use_projection:
                shortcut = self.shortcut_batchnorm(self.shortcut_conv(inputs),
                                                   use_running_average,
                                                   test_local_stats=test_local_stats)
            for i in range(self.num_layers):
                out = norm(i, getattr(self, f"conv_{i}")(out))
                if i < self.num_layers - 1:
                    out = jax.nn.relu(out)
            return jax.nn.relu(out + shortcut)
        for i in range(self.num_layers):
            out = jax.nn.relu(norm(i, out))
            if i == 0 and self.use_projection:
                shortcut = self.shortcut_conv(out)
            out = getattr(self, f"conv_{i}")(out)
        return out + shortcut


class _ResNetBlockGroup(nnx.Module):
    """Haiku's BlockGroup: `block_0`, `block_1`, ...; only the first strides and projects."""

    def __init__(self, c_in: int, channels: int, num_blocks: int, stride: int, bn_config: dict,
                 resnet_v2: bool, bottleneck: bool, use_projection: bool, *, rngs: nnx.Rngs):
        self.num_blocks = num_blocks
        for i in range(num_blocks):
            setattr(self, f"block_{i}", _ResNetBlock(
                c_in if i == 0 else channels, channels, 1 if i else stride,
                use_projection and i == 0, bn_config, bottleneck, resnet_v2, rngs=rngs))

    def __call__(self, inputs: jax.Array, use_running_average: bool | None,
                 test_local_stats: bool) -> jax.Array:
        out = inputs
        for i in range(self.num_blocks):
            out = getattr(self, f"block_{i}")(out, use_running_average, test_local_stats)
        return out


class ResNet(nnx.Module):
    """hk.nets.ResNet: Haiku's constructor arguments, plus the input's channel count.

    Haiku's `is_training` is `not use_running_average` (or `model.train()`/`model.eval()`);
    `test_local_stats` is a call keyword as in Haiku. Config dicts take plain values only
    (Haiku initializers inside them are refused).
    """

    def __init__(self, blocks_per_group: Sequence[int], num_classes: int,
                 bn_config: Mapping[str, Any] | None = None, resnet_v2: bool = False,
                 bottleneck: bool = True,
                 channels_per_group: Sequence[int] = (256, 512, 1024, 2048),
                 use_projection: Sequence[bool] = (True, True, True, True),
                 logits_config: Mapping[str, Any] | None = None,
                 initial_conv_config: Mapping[str, Any] | None = None,
                 strides: Sequence[int] = (1, 2, 2, 2), *, in_channels: int,
                 use_running_average: bool = False, rngs: nnx.Rngs):
        for name, value in (("blocks_per_group", blocks_per_group),
                            ("channels_per_group", channels_per_group), ("strides", strides)):
            if len(value) != 4:
                raise ValueError(f"`{name}` must be of length 4 not {len(value)}")
        bn = {"create_scale": True, "create_offset": True, "decay_rate": 0.9, "eps": 1e-5,
              **_checked(bn_config, _BN_KEYS, "bn_config")}
        logits = {"with_bias": True, **_checked(logits_config, ("with_bias", "name"),
                                                 "logits_config")}
        conv = {"output_channels": 64, "kernel_shape": 7, "stride": 2, "with_bias": False,
                "padding": "SAME", **_checked(initial_conv_config, _CONV_KEYS,
                                               "initial_conv_config")}
        for config, default in ((logits, "logits"), (conv, "initial_conv")):
            if config.pop("name", default) != default:
                raise ValueError(f"renaming {default} is not supported (its path would change)")
        self.resnet_v2 = resnet_v2
        self.use_running_average = use_running_average
        self.initial_conv = _resnet_conv(in_channels, conv["output_channels"],
                                        conv["kernel_shape"], conv["stride"], rngs,
                                        conv["padding"], conv["with_bias"])
        c_in = conv["output_channels"]
        if not resnet_v2:
            self.initial_batchnorm = BatchNorm(**bn, num_features=c_in, rngs=rngs)
        for i, stride in enumerate(strides):
            setattr(self, f"block_group_{i}", _ResNetBlockGroup(
                c_in, channels_per_group[i], blocks_per_group[i], stride, bn, resnet_v2,
                bottleneck, use_projection[i], rngs=rngs))
            c_in = channels_per_group[i] if blocks_per_group[i] else c_in  # 0 blocks: as is
        if resnet_v2:
            self.final_batchnorm = BatchNorm(**bn, num_features=c_in, rngs=rngs)
        self.logits = nnx.Linear(c_in, num_classes, use_bias=logits["with_bias"],
                                 kernel_init=jax.nn.initializers.zeros, rngs=rngs)

    def __call__(self, inputs: jax.Array, use_running_average: bool | None = None, *,
                 test_local_stats: bool = False) -> jax.Array:
        """Haiku's `is_training` is `not use_running_average` (or `model.train()`)."""
        if use_running_average is None:
            use_running_average = self.use_running_average
        out = self.initial_conv(inputs)
        if not self.resnet_v2:
            out = jax.nn.relu(self.initial_batchnorm(out, use_running_average,
                                                     test_local_stats=test_local_stats))
        out = jax.lax.reduce_window(out, -jnp.inf, jax.lax.max, (1, 3, 3, 1), (1, 2, 2, 1),
                                    "SAME")
        for i in range(4):
            out = getattr(self, f"block_group_{i}")(out, use_running_average, test_local_stats)
        if self.resnet_v2:
            out = jax.nn.relu(self.final_batchnorm(out, use_running_average,
                                                   test_local_stats=test_local_stats))
        return self.logits(jnp.mean(out, axis=(1, 2)))


_CONFIGS = {  # depth -> (blocks_per_group, bottleneck, channels_per_group, use_projection)
    18: ((2, 2, 2, 2), False, (64, 128, 256, 512), (False, True, True, True)),
    34: ((3, 4, 6, 3), False, (64, 128, 256, 512), (False, True, True, True)),
    50: ((3, 4, 6, 3), True, (256, 512, 1024, 2048), (True,) * 4),
    101: ((3, 4, 23, 3), True, (256, 512, 1024, 2048), (True,) * 4),
    152: ((3, 8, 36, 3), True, (256, 512, 1024, 2048), (True,) * 4),
    200: ((3, 24, 36, 3), True, (256, 512, 1024, 2048), (True,) * 4),
}


def _depth_kwargs(depth: int) -> dict[str, Any]:
    blocks, bottleneck, channels, projection = _CONFIGS[depth]
    return {"blocks_per_group": blocks, "bottleneck": bottleneck,
            "channels_per_group": channels, "use_projection": projection}


def _depth_class(depth: int) -> type[ResNet]:
    """hk.nets.ResNet<depth>: a ResNet taking Haiku's arguments for that depth."""

    class Depth(ResNet):
        def __init__(self, num_classes: int, bn_config: Mapping[str, Any] | None = None,
                     resnet_v2: bool = False, logits_config: Mapping[str, Any] | None = None,
                     initial_conv_config: Mapping[str, Any] | None = None,
                     strides: Sequence[int] = (1, 2, 2, 2), *, in_channels: int,
                     use_running_average: bool = False, rngs: nnx.Rngs):
            super().__init__(num_classes=num_classes, bn_config=bn_config,
                             resnet_v2=resnet_v2, logits_config=logits_config,
                             initial_conv_config=initial_conv_config, strides=strides,
                             in_channels=in_channels, use_running_average=use_running_average,
                             rngs=rngs, **_depth_kwargs(depth))

    Depth.__name__ = Depth.__qualname__ = f"ResNet{depth}"
    Depth.__doc__ = f"hk.nets.ResNet{depth}: ResNet with Haiku's depth-{depth} configuration."
    return Depth


ResNet18 = _depth_class(18)
ResNet34 = _depth_class(34)
ResNet50 = _depth_class(50)
ResNet101 = _depth_class(101)
ResNet152 = _depth_class(152)
ResNet200 = _depth_class(200)
