"""The benchmarked models: each Haiku original beside the NNX code `hk2nnx convert` would emit.

Module names on both sides follow hk2nnx's naming scheme, so `port_to_nnx` fills the NNX model
from the Haiku params with no hand-written mapping: the numeric check relies on that.
"""

from __future__ import annotations

import dataclasses
import importlib.util
from collections.abc import Callable
from pathlib import Path

import haiku as hk
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

REPO = Path(__file__).resolve().parent.parent
RESNET_NNX = REPO / "examples" / "resnet18" / "nnx_resnet18.py"


# --- Haiku originals -------------------------------------------------------------------------

class HkMLP(hk.Module):
    """Two Linear layers with optional dropout between them."""

    def __init__(self, hidden: int, classes: int, dropout: float | None, name: str = "mlp"):
        super().__init__(name=name)
        self.hidden, self.classes, self.dropout = hidden, classes, dropout

    def __call__(self, x: jax.Array, training: bool) -> jax.Array:
        x = jax.nn.relu(hk.Linear(self.hidden)(x))
        if self.dropout is not None and training:
            x = hk.dropout(hk.next_rng_key(), self.dropout, x)
        return hk.Linear(self.classes)(x)


class HkBlock(hk.Module):
    """Linear + tanh: the unit that layer_stack repeats (tanh keeps 50 layers finite)."""

    def __init__(self, width: int, name: str | None = None):
        super().__init__(name=name)
        self.width = width

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(hk.Linear(self.width)(x))


class HkStackMLP(hk.Module):
    """Input Linear, `depth` stacked blocks under hk.experimental.layer_stack, output Linear."""

    def __init__(self, width: int, depth: int, classes: int, name: str = "stack_mlp"):
        super().__init__(name=name)
        self.width, self.depth, self.classes = width, depth, classes

    def __call__(self, x: jax.Array, training: bool) -> jax.Array:
        del training
        x = jax.nn.relu(hk.Linear(self.width)(x))

        @hk.experimental.layer_stack(self.depth)
        def body(x):
            return HkBlock(self.width, name="block")(x)

        return hk.Linear(self.classes)(body(x))


def hk_resnet18(classes: int) -> Callable[[jax.Array, bool], jax.Array]:
    """hk.nets.ResNet18 as a forward function taking the same `training` flag as the others."""

    def forward(x: jax.Array, training: bool) -> jax.Array:
        return hk.nets.ResNet18(num_classes=classes)(x, is_training=training)

    return forward


# --- NNX versions, as the converter writes them ---------------------------------------------

class MLP(nnx.Module):
    def __init__(self, din: int, hidden: int, classes: int, dropout: float | None, *,
                 rngs: nnx.Rngs):
        self.linear = nnx.Linear(din, hidden, rngs=rngs)
        self.dropout = nnx.Dropout(dropout, rngs=rngs) if dropout is not None else None
        self.linear_1 = nnx.Linear(hidden, classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jax.nn.relu(self.linear(x))
        if self.dropout is not None:
            x = self.dropout(x)
        return self.linear_1(x)


class Block(nnx.Module):
    def __init__(self, width: int, *, rngs: nnx.Rngs):
        self.linear = nnx.Linear(width, width, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return jnp.tanh(self.linear(x))


class StackMLP(nnx.Module):
    def __init__(self, din: int, width: int, depth: int, classes: int, *, rngs: nnx.Rngs):
        self.linear = nnx.Linear(din, width, rngs=rngs)

        @nnx.split_rngs(splits=depth)
        @nnx.vmap(in_axes=(0,), out_axes=0)
        def make_block(rngs: nnx.Rngs) -> Block:
            return Block(width, rngs=rngs)

        self.block = make_block(rngs)
        self.linear_1 = nnx.Linear(width, classes, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        x = jax.nn.relu(self.linear(x))

        @nnx.scan(in_axes=(nnx.Carry, 0), out_axes=nnx.Carry)
        def body(x: jax.Array, block: Block) -> jax.Array:
            return block(x)

        return self.linear_1(body(x, self.block))


def _load_resnet_nnx() -> Callable[[nnx.Rngs], nnx.Module] | None:
    """The hand-written NNX ResNet18 example (10 classes) if it has landed; None: rows pending."""
    if not RESNET_NNX.exists():
        return None
    spec = importlib.util.spec_from_file_location("bench_nnx_resnet18", RESNET_NNX)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return getattr(module, "make_model", None)


# --- the table of models ---------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """One benchmarked model: its batch, both implementations, and whether it keeps state."""

    name: str
    batch: int
    features: tuple[int, ...]  # input shape without the batch axis
    classes: int
    haiku: Callable[[jax.Array, bool], jax.Array]  # forward(x, training)
    nnx: Callable[[nnx.Rngs], nnx.Module] | None  # None: NNX version not available yet
    dropout: bool = False  # Haiku forward needs an rng when training
    check: ModelSpec | None = None  # variant for the numeric check (dropout rate 0), if differs
    in_quick: bool = True  # False: too slow to compile for the smoke run; its rows say so

    def batch_data(self, seed: int = 0) -> tuple[jax.Array, jax.Array]:
        """numpy draws: eager jax.random would compile a kernel per shape, seconds in quick mode."""
        rng = np.random.default_rng(seed)
        x = rng.standard_normal((self.batch, *self.features), dtype=np.float32)
        return jnp.asarray(x), jnp.asarray(rng.integers(0, self.classes, self.batch, np.int32))


def _mlp(name: str, batch: int, din: int, hidden: int, classes: int,
         dropout: float | None) -> ModelSpec:
    """With dropout, the check variant keeps the Dropout module and its Rngs at rate 0, so Haiku's
    and NNX's (differently drawn) masks cannot make equal code look different."""
    return ModelSpec(
        name, batch, (din,), classes,
        haiku=lambda x, training: HkMLP(hidden, classes, dropout)(x, training),
        nnx=lambda rngs: MLP(din, hidden, classes, dropout, rngs=rngs),
        dropout=dropout is not None,
        check=_mlp(name, batch, din, hidden, classes, 0.0) if dropout else None)


def _stack(name: str, batch: int, width: int, depth: int, classes: int) -> ModelSpec:
    return ModelSpec(
        name, batch, (width,), classes,
        haiku=lambda x, training: HkStackMLP(width, depth, classes)(x, training),
        nnx=lambda rngs: StackMLP(width, width, depth, classes, rngs=rngs))


def _resnet(name: str, batch: int) -> ModelSpec:
    return ModelSpec(name, batch, (32, 32, 3), 10, haiku=hk_resnet18(10),
                     nnx=_load_resnet_nnx(), in_quick=False)


def model_table(quick: bool) -> list[ModelSpec]:
    """The benchmarked models; quick mode keeps every name but shrinks the expensive ones."""
    return [
        _mlp("mlp_dropout", 128, 784, 256, 10, 0.1),
        _mlp("mlp_tiny", 8, 16, 32, 4, None),
        _stack("stack5", 32, 256 if not quick else 32, 5, 10),
        _stack("stack5_tiny", 32, 32, 5, 10),  # small scan model: per-step extras show here
        _stack("stack50", 32, 256 if not quick else 32, 50, 10),
        _resnet("resnet18", 32),
    ]

