"""Hypothesis strategies for odd but parseable Python that looks like Haiku, to fuzz the converter.

The grammar is deliberately loose: it aims at the converter's edges (aliases, dynamic names,
star-arguments, decorators, new syntax) rather than at programs that run.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

from hypothesis import strategies as st

FIXTURES = Path(__file__).resolve().parents[1] / "convert" / "fixtures"
FIXTURE_SOURCES = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*/*.py"))
                   if not p.name.endswith(".expected.py")]

names = st.sampled_from(["x", "y", "net", "self", "hk", "nnx", "jnp", "Linear", "params",
                         "forward", "model", "rngs", "w", "b", "_", "haiku", "L", "layer"])
ints = st.integers(-2, 300).map(str)
layers = st.sampled_from(["hk.Linear", "haiku.Linear", "L", "hk.LayerNorm", "hk.Conv2D",
                          "hk.nets.MLP", "hk.BatchNorm", "hk.Embed", "hk.Module", "hk.get_parameter",
                          "hk.get_state", "hk.set_state", "hk.next_rng_key", "hk.dropout",
                          "hk.transform", "hk.experimental.layer_stack", "hk.scan", "hk.vmap"])

IMPORTS = ["import haiku as hk", "import haiku", "from haiku import Linear as L",
           "import haiku.experimental", "from haiku import nets", "import jax",
           "import jax.numpy as jnp", "from flax import nnx", "import haiku as hk, jax"]


@st.composite
def args(draw) -> str:
    """An argument list with positional, keyword, starred and odd values."""
    parts = draw(st.lists(st.one_of(
        ints, names, st.just("*a"), st.just("**kw"), st.just("name=f'l{i}'"),
        st.builds(lambda n, v: f"{n}={v}", st.sampled_from(
            ["output_size", "name", "with_bias", "w_init", "axis", "create_scale", "shape"]),
            st.one_of(ints, names, st.just("None"), st.just("'lin'"), st.just("lambda s, d: s"),
                      st.just("[3, 4]"), st.just("True")))), max_size=4))
    positional = [p for p in parts if "=" not in p and not p.startswith("**")]
    keyword = [p for p in parts if "=" in p or p.startswith("**")]
    return ", ".join(positional + keyword)


@st.composite
def expressions(draw) -> str:
    kind = draw(st.integers(0, 9))
    if kind <= 3:
        return f"{draw(layers)}({draw(args())})({draw(names)})"
    if kind == 4:
        return f"{draw(layers)}({draw(args())})"
    if kind == 5:
        return f"lambda {draw(names)}: {draw(layers)}({draw(args())})({draw(names)})"
    if kind == 6:
        return f"f'{{{draw(names)}}}-{{{draw(ints)}!r}}'"
    if kind == 7:
        return f"({draw(names)} := {draw(layers)}({draw(args())}))"
    if kind == 8:
        return f"[{draw(layers)}(i) for i in range({draw(ints)})]"
    return f"{draw(names)}.{draw(names)}(*{draw(names)}, **{{}})"


def indent(lines: list[str], prefix: str = "    ") -> list[str]:
    return [prefix + line if line else line for line in lines]


@st.composite
def statements(draw, depth: int = 0) -> list[str]:
    kind = draw(st.integers(0, 11 if depth < 2 else 4))
    target, value = draw(names), draw(expressions())
    if kind <= 1:
        return [f"{target} = {value}"]
    if kind == 2:
        return [f"self.{target} = {value}"]
    if kind == 3:
        return [f"return {value}"]
    if kind == 4:
        return [value, "pass"]
    body = draw(st.lists(statements(depth + 1), min_size=1, max_size=3))
    inner = indent([line for block in body for line in block])
    if kind == 5:
        return [f"class {draw(names).title()}({draw(layers)}):", *inner]
    if kind == 6:
        decorator = draw(st.sampled_from(["@hk.transform", "@staticmethod", "@jax.jit",
                                          "@hk.experimental.name_scope('s')", "@functools.wraps(f)"]))
        return [decorator, f"def {draw(names)}(self, *args, x=1, **kw):", *inner]
    if kind == 7:
        return [f"async def {draw(names)}({draw(names)}, /, *, y=None):", *inner]
    if kind == 8:
        return [f"match {draw(names)}:", "    case [a, *rest] if a:", *indent(inner),
                "    case _:", "        pass"]
    if kind == 9:
        return [f"with hk.experimental.name_scope({draw(ints)}) as {draw(names)}:", *inner]
    if kind == 10:
        return [f"for {draw(names)} in range({draw(ints)}):", *inner, "else:", "    pass"]
    return ["try:", *inner, "except* ValueError:", "    pass"]


@st.composite
def programs(draw) -> str:
    """A whole module: a few imports, then statements."""
    head = draw(st.lists(st.sampled_from(IMPORTS), min_size=1, max_size=4))
    body = draw(st.lists(statements(), min_size=1, max_size=6))
    lines = head + [line for block in body for line in block]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "  \n"]))


def _mutate(source: str, seed: int, steps: int) -> str:
    """Deletes, duplicates, swaps lines or renames an identifier, `steps` times."""
    rng = random.Random(seed)
    lines = source.splitlines(keepends=True)
    for _ in range(steps):
        if not lines:
            break
        i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
        op = rng.randrange(4)
        if op == 0:
            del lines[i]
        elif op == 1:
            lines.insert(j, lines[i])
        elif op == 2:
            lines[i], lines[j] = lines[j], lines[i]
        else:
            words = sorted(set(re.findall(r"[A-Za-z_]\w*", "".join(lines))))
            old, new = rng.choice(words), rng.choice(words + ["renamed", "hk", "nnx", "self"])
            lines = [re.sub(rf"\b{old}\b", new, line) for line in lines]
    return "".join(lines)


@st.composite
def mutated_fixtures(draw) -> str:
    source = draw(st.sampled_from(FIXTURE_SOURCES))
    return _mutate(source, draw(st.integers(0, 2**32 - 1)), draw(st.integers(1, 4)))
