"""Initializer expressions: a Haiku initializer as the jax one that draws from the same law.

One table serves both modes and the layer defaults: `hk2nnx.compat.initializers`. A rule that
needs a compat helper (`shifted`, `random_uniform`, `identity`) is written as `hkc.<helper>` in
faithful mode and has no equivalent in idiomatic mode (NNX built-ins only).
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst
import libcst.matchers as m

from hk2nnx.compat import initializers as table
from hk2nnx.convert import modes
from hk2nnx.convert.context import FileContext
from hk2nnx.convert.dims import wrapped
from hk2nnx.convert.rules.args import bind, has_star

Hoister = Callable[[cst.BaseExpression], cst.BaseExpression]
_BARE = ("jax.numpy.zeros", "jax.numpy.ones")  # used uncalled: `w_init=jnp.zeros`
_EMPTY = cst.Module(body=[])


def nnx_initializer(expr: cst.BaseExpression, ctx: FileContext, hoist: Hoister,
                    rank: int | None = None,
                    fan_axes: tuple[int, int] | None = None) -> str | None:
    """`jax.nn.initializers.truncated_normal(0.1, ...)` for `hk.initializers.TruncatedNormal(0.1)`.

    None when the table has no entry, or the arguments have no equivalent in this mode.
    `rank` is the parameter's rank when known (Haiku counts fans of vectors differently);
    `fan_axes` the (in, out) axes of NNX's layout where Haiku's fans lie, if not jax's.
    """
    is_call = m.matches(expr, m.Call())
    name = ctx.qualname(expr.func if is_call else expr) or ""
    rule = table.BY_HAIKU.get(name)
    if rule is None or is_call == (name in _BARE) or (is_call and has_star(expr)):
        return None
    bound = bind(expr, [p for p, _ in rule.params]) if is_call else {}
    args = {k: ctx.code(hoist(a.value)) for k, a in bound.items()}
    try:
        axes = {"in_axis": fan_axes[0], "out_axis": fan_axes[1]} if fan_axes else {}
        source = table.initializer_source(name, args, rank=rank, **axes)
    except (ValueError, SyntaxError):
        return None
    if source.compat and not modes.is_faithful():
        return None
    return modes.qualify(source.text, sorted(source.compat))


def layer_default(layer: str, leaf: str, rank: int | None = None) -> str | None:
    """Haiku's own initializer for `layer`'s `leaf`, when NNX's default draws differently.

    None for zeros and ones: every NNX layer here already starts biases, offsets and scales so.
    """
    default = table.layer_default(layer, leaf)
    if default is None or default.rule in _BARE:
        return None
    source = table.initializer_source(default.rule, dict(default.args), rank=rank)
    return modes.qualify(source.text, sorted(source.compat))


def fan_in_default(layer: str, values: dict[str, str], in_features: str | None) -> str | None:
    """Haiku's default kernel init for `layer`, TruncatedNormal(1 / sqrt(fan_in)), as jax's
    `truncated_normal(fan_in ** -0.5)` over the converted arguments (`values`, NNX names).

    The same formula as Haiku's (no truncation correction), and short enough for one line.
    None when the fan-in cannot be read from the arguments (a kernel size held in a variable).
    """
    default = table.layer_default(layer, "w")
    if default is None or default.rule != table.FAN_IN_TRUNCATED or in_features is None:
        return None
    factors = _kernel_factors(values.get("kernel_size"))
    if factors is None:
        return None
    groups = values.get("feature_group_count")
    if groups is None or groups == "1":
        factors.append(values[in_features])
    elif groups != values[in_features]:  # depthwise (one group per channel) has fan-in 1
        return None
    constant, symbols = 1, []
    for factor in factors:
        node = cst.parse_expression(factor)
        if m.matches(node, m.Integer()):
            constant *= int(node.value)
        else:
            symbols.append(_EMPTY.code_for_node(wrapped(node)))
    terms = ([str(constant)] if constant != 1 or not symbols else []) + symbols
    fan_in = terms[0] if len(terms) == 1 else f"({' * '.join(terms)})"
    return f"jax.nn.initializers.truncated_normal({fan_in} ** -0.5)"


def _kernel_factors(kernel: str | None) -> list[str] | None:
    """The spatial kernel sizes as source texts ([] for layers without a kernel)."""
    if kernel is None:
        return []
    node = cst.parse_expression(kernel)
    if m.matches(node, m.Tuple() | m.List()):
        return [_EMPTY.code_for_node(e.value) for e in node.elements]
    return [kernel] if m.matches(node, m.Integer()) else None
