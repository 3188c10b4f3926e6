"""DATA: each Haiku initializer and layer default as a jax.nn.initializers expression, same law.

"Same distribution, not same bits": every rule is checked statistically against Haiku's own
initializer by `tests/compat/test_compat_initializers.py`. A rule's `source` is valid while
its `requires` hold; otherwise its `compat` form is used, which calls a helper that
`hk2nnx.compat.compat_source` emits (`shifted`, `random_uniform`, `identity`).
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Callable, Mapping

import jax
import jax.numpy as jnp

from hk2nnx.compat.templates import inits

REQUIRED = "<required>"  # a Haiku argument without a default
HAIKU_FANS = "haiku_fans"  # hk VarianceScaling: a 1-D shape has fan_in = fan_out = its size
INPUT_SIZE = "input_size"  # hk UniformScaling: fan_in = prod(shape[:-1])
FAN_IN_TRUNCATED = "hk2nnx.fan_in_truncated_normal"  # hk.Linear/Conv default, no 0.88 correction
_JNI = "jax.nn.initializers"
# (in_axis, out_axis) that give jax Haiku's fans for shapes of rank 0 and 1.
LOW_RANK_AXES: dict[str, dict[int, tuple[object, object]]] = {
    HAIKU_FANS: {0: ((), ()), 1: ((), ())},
    INPUT_SIZE: {0: ((), ()), 1: ((), -1)},
}


@dataclasses.dataclass(frozen=True)
class InitializerRule:
    """A Haiku initializer and an expression (over its arguments) drawing from the same law."""

    haiku: str  # qualified name, e.g. "haiku.initializers.TruncatedNormal"
    params: tuple[tuple[str, object], ...]  # Haiku's arguments and defaults, in order
    source: str | None  # jax.nn.initializers form; `{name}` = argument source, `{axes}` = fans
    requires: tuple[tuple[str, object], ...] = ()  # argument values the source form needs
    compat: str | None = None  # form using compat helpers, valid for any arguments
    fans: str | None = None  # HAIKU_FANS / INPUT_SIZE: takes `{axes}` for rank and layout
    notes: str = ""


@dataclasses.dataclass(frozen=True)
class LayerDefault:
    """The initializer a Haiku layer uses for one leaf when the user passes none."""

    layer: str  # e.g. "haiku.Linear"
    leaf: str  # Haiku leaf name, e.g. "w"
    rule: str  # InitializerRule.haiku
    args: tuple[tuple[str, str], ...] = ()  # argument source texts
    notes: str = ""


@dataclasses.dataclass(frozen=True)
class InitializerSource:
    """An initializer expression for converted code, and the compat helpers it calls."""

    text: str
    compat: frozenset[str]


_TRUNCATED = f"{_JNI}.truncated_normal({{stddev}}, lower={{lower}}, upper={{upper}})"
_VARIANCE = f"{_JNI}.variance_scaling"

RULES: tuple[InitializerRule, ...] = (
    InitializerRule("haiku.initializers.Constant", (("constant", REQUIRED),),
                    f"{_JNI}.constant({{constant}})"),
    InitializerRule("haiku.initializers.RandomNormal", (("stddev", 1.0), ("mean", 0.0)),
                    f"{_JNI}.normal({{stddev}})", (("mean", 0.0),),
                    f"shifted({_JNI}.normal({{stddev}}), {{mean}})"),
    InitializerRule("haiku.initializers.TruncatedNormal",
                    (("stddev", 1.0), ("mean", 0.0), ("lower", -2.0), ("upper", 2.0)),
                    _TRUNCATED, (("mean", 0.0),), f"shifted({_TRUNCATED}, {{mean}})",
                    notes="bounds are in stddevs and there is no variance correction, in both"),
    InitializerRule("haiku.initializers.RandomUniform", (("minval", 0.0), ("maxval", 1.0)),
                    f"{_JNI}.uniform({{maxval}})", (("minval", 0.0),),
                    "random_uniform({minval}, {maxval})"),
    InitializerRule("haiku.initializers.VarianceScaling",
                    (("scale", 1.0), ("mode", "fan_in"), ("distribution", "truncated_normal"),
                     ("fan_in_axes", None)),
                    f"{_VARIANCE}({{scale}}, {{mode}}, {{distribution}}{{axes}})", fans=HAIKU_FANS,
                    notes="both divide a truncated normal's stddev by 0.8796; fans below 1 are "
                          "clamped to 1 by Haiku only (empty shapes)"),
    InitializerRule("haiku.initializers.UniformScaling", (("scale", 1.0),),
                    f'{_VARIANCE}({{scale}} ** 2, "fan_in", "uniform"{{axes}})', fans=INPUT_SIZE),
    InitializerRule("haiku.initializers.Orthogonal", (("scale", 1.0), ("axis", -1)),
                    f"{_JNI}.orthogonal({{scale}}, column_axis={{axis}})",
                    notes="both are Haar-orthogonal (QR of a normal matrix, signs fixed)"),
    InitializerRule("haiku.initializers.Identity", (("gain", 1.0),), None,
                    compat="identity({gain})"),
    InitializerRule("jax.numpy.zeros", (), f"{_JNI}.zeros"),
    InitializerRule("jax.numpy.ones", (), f"{_JNI}.ones"),
    InitializerRule(FAN_IN_TRUNCATED, (),
                    f'{_VARIANCE}(0.87962566103423978 ** 2, "fan_in", "truncated_normal"{{axes}})',
                    fans=HAIKU_FANS,
                    notes="TruncatedNormal(1 / sqrt(fan_in)): squaring jax's 0.8796 correction "
                          "into the scale cancels it; nnx's lecun_normal is 1/0.8796 wider"),
)

_ZEROS, _ONES = "jax.numpy.zeros", "jax.numpy.ones"
_CONVS = ("Conv1D", "Conv2D", "Conv3D", "ConvND", "DepthwiseConv1D", "DepthwiseConv2D",
          "DepthwiseConv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
          "ConvNDTranspose")
_NORMS = ("LayerNorm", "BatchNorm", "GroupNorm", "InstanceNorm")

LAYER_DEFAULTS: tuple[LayerDefault, ...] = (
    LayerDefault("haiku.Linear", "w", FAN_IN_TRUNCATED),
    LayerDefault("haiku.Linear", "b", _ZEROS),
    *(LayerDefault(f"haiku.{c}", "w", FAN_IN_TRUNCATED,
                   notes="for NNX's kernel layout; transposed convs count fan_in over "
                         "kernel x input channels, which NNX keeps on axis -2")
      for c in _CONVS),
    *(LayerDefault(f"haiku.{c}", "b", _ZEROS) for c in _CONVS),
    *(LayerDefault(f"haiku.{n}", "scale", _ONES) for n in (*_NORMS, "RMSNorm")),
    *(LayerDefault(f"haiku.{n}", "offset", _ZEROS) for n in _NORMS),
    LayerDefault("haiku.Bias", "b", _ZEROS),
    LayerDefault("haiku.Embed", "embeddings", "haiku.initializers.TruncatedNormal"),
    LayerDefault("haiku.GRU", "w_i", "haiku.initializers.VarianceScaling"),
    LayerDefault("haiku.GRU", "w_h", "haiku.initializers.VarianceScaling"),
    LayerDefault("haiku.GRU", "b", _ZEROS),
    *(LayerDefault(f"haiku.nets.{v}", "embeddings", "haiku.initializers.VarianceScaling",
                   (("distribution", "'uniform'"),))
      for v in ("VectorQuantizer", "VectorQuantizerEMA")),
    LayerDefault("haiku.SpectralNorm", "u0", "haiku.initializers.RandomNormal"),
)

BY_HAIKU: dict[str, InitializerRule] = {r.haiku: r for r in RULES}
NAMESPACE = {  # every name a rule's expressions may use
    "jax": jax, "jnp": jnp, "shifted": inits.shifted, "random_uniform": inits.random_uniform,
    "identity": inits.identity,
}


def layer_default(layer: str, leaf: str) -> LayerDefault | None:
    return next((d for d in LAYER_DEFAULTS if d.layer == layer and d.leaf == leaf), None)


def initializer_source(haiku: str, args: Mapping[str, str] | None = None, *,
                       rank: int | None = None, in_axis: object = None,
                       out_axis: object = None) -> InitializerSource:
    """The expression for Haiku initializer `haiku` called with `args` (argument source texts).

    `rank` is the parameter's rank when known (fans of 0-D/1-D shapes, `fan_in_axes`);
    `in_axis`/`out_axis` say where NNX keeps the fan axes when its layout differs from Haiku's.
    """
    rule = BY_HAIKU.get(haiku)
    if rule is None:
        raise ValueError(f"no initializer rule for {haiku}; known: {', '.join(BY_HAIKU)}")
    values = _arguments(rule, dict(args or {}))
    template = rule.source if rule.source and _requirements_hold(rule, values) else rule.compat
    if template is None:
        raise ValueError(f"{haiku} with {values} has no equivalent expression")
    text = template.format(**values, axes=_axes(rule, values, rank, in_axis, out_axis))
    used = {n.id for n in ast.walk(ast.parse(text, mode="eval")) if isinstance(n, ast.Name)}
    return InitializerSource(text, frozenset(used & (set(NAMESPACE) - {"jax", "jnp"})))


def build(haiku: str, *, rank: int | None = None, in_axis: object = None,
          out_axis: object = None, **values: object) -> Callable[..., jax.Array]:
    """The jax initializer `initializer_source` writes, evaluated (the text is the one truth)."""
    source = initializer_source(haiku, {k: repr(v) for k, v in values.items()}, rank=rank,
                                in_axis=in_axis, out_axis=out_axis)
    return eval(source.text, dict(NAMESPACE))  # our own text over literal reprs  # noqa: S307


def _arguments(rule: InitializerRule, args: dict[str, str]) -> dict[str, str]:
    unknown = set(args) - {name for name, _ in rule.params}
    if unknown:
        raise ValueError(f"{rule.haiku} takes no argument {', '.join(sorted(unknown))}")
    values = {}
    for name, default in rule.params:
        if name not in args and default == REQUIRED:
            raise ValueError(f"{rule.haiku} needs `{name}`")
        values[name] = _atom(args[name]) if name in args else repr(default)
    return values


def _atom(text: str) -> str:
    """Parenthesised unless it binds tighter than any operator (`-1.0 ** 2` is -1)."""
    node = ast.parse(text, mode="eval").body
    tight = (ast.Name, ast.Attribute, ast.Call, ast.Subscript, ast.Tuple, ast.List)
    if isinstance(node, tight) or (isinstance(node, ast.Constant) and text.lstrip()[:1] != "-"):
        return text
    return f"({text})"


def _requirements_hold(rule: InitializerRule, values: dict[str, str]) -> bool:
    """Only literal arguments can be shown to meet a requirement; others take the compat form."""
    for name, wanted in rule.requires:
        try:
            if ast.literal_eval(values[name]) != wanted:
                return False
        except (ValueError, SyntaxError):
            return False
    return True


def _axes(rule: InitializerRule, values: dict[str, str], rank: int | None, in_axis: object,
          out_axis: object) -> str:
    if rule.fans is None:
        return ""
    if in_axis is not None or out_axis is not None:
        return f", in_axis={in_axis!r}, out_axis={out_axis!r}"
    fan_in_axes = ast.literal_eval(values.get("fan_in_axes", "None"))
    if fan_in_axes is not None:
        if rank is None:
            raise ValueError("VarianceScaling(fan_in_axes=...) needs the parameter's rank")
        rest = tuple(i for i in range(rank) if i not in fan_in_axes)
        return f", in_axis={tuple(fan_in_axes)!r}, out_axis={rest!r}"
    if rank is not None and rank < 2:
        low_in, low_out = LOW_RANK_AXES[rule.fans][rank]
        return f", in_axis={low_in!r}, out_axis={low_out!r}"
    return ""
