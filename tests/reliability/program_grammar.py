"""Hypothesis strategies for small, valid Haiku programs built only from constructs convert supports.

A program is a chain of hk.Module subclasses (1-3 deep) whose bodies mix Linear, relu and
LayerNorm layers, a child call (plain or under hk.experimental.layer_stack), and a module attribute
used twice; import style, names and
keyword-vs-positional arguments vary. Every program runs under Haiku as written.
"""

from __future__ import annotations

import keyword

from hypothesis import strategies as st

IMPORT_STYLES = {
    "hk": ("import haiku as hk", "hk"),
    "haiku": ("import haiku", "haiku"),
    "from": ("import haiku as hk\nfrom haiku import Linear as L", "hk"),
}
RESERVED = {"hk", "haiku", "jax", "jnp", "nnx", "L", "self", "x", "forward", "model", "params",
            "width", "name", "rngs", "super"}

identifiers = st.from_regex(r"[a-z][a-z0-9]{1,6}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s) and s not in RESERVED)


def linear(hk: str, style: str, width: str, keyword_arg: bool) -> str:
    callee = "L" if style == "from" else f"{hk}.Linear"
    return f"{callee}(output_size={width})" if keyword_arg else f"{callee}({width})"


@st.composite
def layer_lines(draw, hk: str, style: str, child: str | None) -> list[str]:
    """The body of __call__, always ending on `width` features."""
    lines = [f"x = {linear(hk, style, 'self.width', draw(st.booleans()))}(x)"]
    for kind in draw(st.lists(st.sampled_from(["relu", "norm", "linear", "shared"]), max_size=3)):
        if kind == "relu":
            lines.append("x = jax.nn.relu(x)")
        elif kind == "norm":
            lines.append(f"x = {hk}.LayerNorm(axis=-1, create_scale=True, create_offset=True)(x)")
        elif kind == "linear":
            lines.append(f"x = {linear(hk, style, 'self.width', draw(st.booleans()))}(x)")
        else:
            lines.append("x = self.shared(self.shared(x))")
    if child is not None and draw(st.booleans()):
        depth = draw(st.integers(1, 3))  # the child stacked: one definition, `depth` layers
        lines += [f"@{hk}.experimental.layer_stack({depth})", "def stack(x):",
                  f"    return {child}(self.width)(x)", "x = stack(x)"]
    elif child is not None:
        lines.append(f"x = {child}(self.width)(x)")
    return lines


def module_class(name: str, hk: str, style: str, body: list[str]) -> str:
    """The class; `self.shared` exists only when the body calls it (an unused layer is refused)."""
    uses_shared = any("self.shared" in line for line in body)
    shared = f"        self.shared = {linear(hk, style, 'width', False)}\n" if uses_shared else ""
    calls = "\n".join(f"        {line}" for line in body)
    return (f"class {name}({hk}.Module):\n"
            f"    def __init__(self, width, name=None):\n"
            f"        super().__init__(name=name)\n"
            f"        self.width = width\n{shared}\n"
            f"    def __call__(self, x):\n{calls}\n        return x\n")


@st.composite
def haiku_programs(draw) -> tuple[str, int]:
    """(source, input feature size D) of a program whose `model` is an hk.transform."""
    style = draw(st.sampled_from(sorted(IMPORT_STYLES)))
    imports, hk = IMPORT_STYLES[style]
    depth = draw(st.integers(1, 3))
    names = draw(st.lists(identifiers, min_size=depth, max_size=depth, unique=True))
    classes = [n.capitalize() for n in names]
    blocks = []
    for i in reversed(range(depth)):
        child = classes[i + 1] if i + 1 < depth else None
        blocks.append(module_class(classes[i], hk, style, draw(layer_lines(hk, style, child))))
    width, features = draw(st.integers(1, 5)), draw(st.integers(1, 5))
    width_arg = f"width={width}" if draw(st.booleans()) else str(width)
    tail = (f"def forward(x):\n    return {classes[0]}({width_arg})(x)\n\n\n"
            f"model = {hk}.transform(forward)\n"
            f"params = model.init(jax.random.key(0), jnp.ones((2, {features})))\n")
    head = f"{imports}\nimport jax\nimport jax.numpy as jnp\n"
    return "\n\n".join([head, *blocks, tail]), features
