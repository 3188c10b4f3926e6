"""Fuzz the converter: odd Haiku-looking source never crashes it, and what it emits always parses.

Bounded for CI; for a long run:
  HK2NNX_FUZZ_EXAMPLES=2000 python -m pytest tests/reliability/test_fuzz_convert.py \
      --hypothesis-show-statistics
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from hk2nnx.convert import ConvertSyntaxError, convert_source
from tests.reliability.fuzz_grammar import mutated_fixtures, programs

EXAMPLES = int(os.environ.get("HK2NNX_FUZZ_EXAMPLES", "0"))
# No shrinking: a slow converter case can take minutes to shrink; failures are pinned below.
FUZZ = settings(max_examples=EXAMPLES or 60, deadline=None,
                phases=[Phase.explicit, Phase.reuse, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def check_converts_safely(source: str) -> None:
    """The converter's contract on any text: ConvertSyntaxError or parseable, stable code."""
    try:
        result = convert_source(source, filename="fuzz.py")
    except ConvertSyntaxError:
        return
    compile(result.code, "converted.py", "exec", dont_inherit=True)
    if not result.changed:
        if result.code != source:
            raise AssertionError("unchanged result whose code differs from the input")
        return
    again = convert_source(result.code, filename="converted.py")
    compile(again.code, "converted-twice.py", "exec", dont_inherit=True)


@FUZZ
@given(programs())
def test_grammar_programs_convert_to_parseable_code(source):
    check_converts_safely(source)


@settings(FUZZ, max_examples=(EXAMPLES or 60) // 2)
@given(mutated_fixtures())
def test_mutated_fixtures_convert_to_parseable_code(source):
    check_converts_safely(source)


@settings(FUZZ, max_examples=(EXAMPLES or 60) // 2)
@given(st.text(alphabet=st.sampled_from(list("haiku hk.Linear()=:\n\t#'\"\\x1[]")), max_size=80))
def test_arbitrary_text_is_an_error_or_parseable(source):
    check_converts_safely("import haiku as hk\n" + source)


# Found by test_mutated_fixtures_* (guide_autoencoder.py with `def decode` deleted), then reduced.
MISSING_METHOD = """import haiku as hk
import jax
import jax.numpy as jnp


class AutoEncoder(hk.Module):
    def encode(self, x):
        return hk.Linear(4)(x)

    def __call__(self, x):
        return self.encode(x)


def forward():
    module = AutoEncoder()
    init = lambda x: module(x)
    return init, (module.encode, module.decode)


model = hk.multi_transform(forward)
params = model.init(jax.random.key(0), x=jnp.ones((1, 12)))
encode, decode = model.apply
y = decode(params, None, x)
"""


def test_multi_transform_of_a_missing_method_is_a_finding_not_a_crash():
    check_converts_safely(MISSING_METHOD)


# Found by the 2000-example run (guide_autoencoder.py with `def __call__` deleted), then reduced.
MISSING_CALL = """import haiku as hk
import jax
import jax.numpy as jnp


class AutoEncoder(hk.Module):
    def encode(self, x):
        return hk.Linear(4)(x)


def forward():
    module = AutoEncoder()
    init = lambda x: module(x)
    return init, (module.encode,)


model = hk.multi_transform(forward)
params = model.init(jax.random.key(0), x=jnp.ones((1, 12)))
"""


def test_multi_transform_init_calling_a_module_without_call_is_a_finding_not_a_crash():
    check_converts_safely(MISSING_CALL)


# Found by a 400-example run over mutated fixtures: a module class that builds itself.
SELF_BUILDING = """import haiku as hk


class Block(hk.Module):
    def __init__(self, features: int, name=None):
        super().__init__(name=name)
        self.features = features

    def __call__(self, x, training: bool):
        @hk.experimental.layer_stack(2)
        def stack_block(x):
            return Block(self.features)(x, training)

        x = hk.dropout(hk.next_rng_key(), 0.5 if training else 0, x)
        return stack_block(x)
"""


def test_a_module_class_that_builds_itself_is_no_crash():
    check_converts_safely(SELF_BUILDING)


# Found by CI's 60-example run over mutated fixtures: one function transformed twice.
TRANSFORMED_TWICE = """import haiku as hk
import jax
import jax.numpy as jnp


def forward(x, is_training):
    vq = hk.nets.VectorQuantizer(embedding_dim=4, num_embeddings=6, commitment_cost=0.25)
    ema = hk.nets.VectorQuantizerEMA(4, 5, 0.25, decay=0.9)
    return vq(x, is_training=is_training)["quantize"] + ema(x, is_training)["quantize"]

net = hk.transform_with_state(forward)

net = hk.transform_with_state(forward)
params, state = net.init(jax.random.PRNGKey(0), jnp.zeros((3, 2, 4)), is_training=True)
"""


def test_a_function_transformed_twice_is_refused_not_a_crash():
    check_converts_safely(TRANSFORMED_TWICE)
    from hk2nnx.convert import convert_source
    result = convert_source(TRANSFORMED_TWICE, filename="twice.py")
    assert result.code.count("is transformed more than once") == 2
