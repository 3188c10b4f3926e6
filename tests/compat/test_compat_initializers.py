"""Every initializer rule draws from the same law as Haiku's initializer (20k-value samples)."""

import ast

import haiku as hk
import jax
import numpy as np
import pytest
from law import haiku_draw, jax_draw, law_faults

from hk2nnx.compat import initializers as table

I = hk.initializers
# (rule, Haiku initializer, our arguments, shape, bounded): ranks are taken from the shape.
CASES = [
    ("Constant", I.Constant(0.5), {"constant": 0.5}, (4, 5), False),
    ("RandomNormal", I.RandomNormal(), {}, (20000,), False),
    ("RandomNormal", I.RandomNormal(0.3, 2.0), {"stddev": 0.3, "mean": 2.0}, (200, 100), False),
    ("TruncatedNormal", I.TruncatedNormal(), {}, (20000,), True),
    ("TruncatedNormal", I.TruncatedNormal(0.5, 1.0, lower=-1.0, upper=3.0),
     {"stddev": 0.5, "mean": 1.0, "lower": -1.0, "upper": 3.0}, (200, 100), True),
    ("RandomUniform", I.RandomUniform(), {}, (20000,), True),
    ("RandomUniform", I.RandomUniform(-2.0, 3.0), {"minval": -2.0, "maxval": 3.0}, (200, 100),
     True),
    ("VarianceScaling", I.VarianceScaling(), {}, (100, 200), True),
    ("VarianceScaling", I.VarianceScaling(2.0, "fan_out", "normal"),
     {"scale": 2.0, "mode": "fan_out", "distribution": "normal"}, (5, 5, 20, 40), False),
    ("VarianceScaling", I.VarianceScaling(0.5, "fan_avg", "uniform"),
     {"scale": 0.5, "mode": "fan_avg", "distribution": "uniform"}, (200, 100), True),
    ("VarianceScaling", I.VarianceScaling(), {}, (20000,), True),
    ("VarianceScaling", I.VarianceScaling(1.0, "fan_out", fan_in_axes=(0, 1)),
     {"mode": "fan_out", "fan_in_axes": (0, 1)}, (20, 10, 100), True),
    ("VarianceScaling", I.VarianceScaling(1.0, "fan_in", "uniform", fan_in_axes=(2,)),
     {"distribution": "uniform", "fan_in_axes": (2,)}, (20, 10, 100), True),
    ("UniformScaling", I.UniformScaling(2.0), {"scale": 2.0}, (100, 200), True),
    ("UniformScaling", I.UniformScaling(), {}, (20000,), True),
    ("Orthogonal", I.Orthogonal(), {}, (100, 200), False),
    ("Orthogonal", I.Orthogonal(2.0, axis=0), {"scale": 2.0, "axis": 0}, (200, 100), False),
    ("Identity", I.Identity(2.0), {"gain": 2.0}, (3, 4, 5), False),
]
IDS = [f"{name}-{i}" for i, (name, *_) in enumerate(CASES)]


@pytest.mark.parametrize(("name", "haiku_init", "args", "shape", "bounded"), CASES, ids=IDS)
def test_rule_draws_from_haikus_law(name, haiku_init, args, shape, bounded):
    ours = table.build(f"haiku.initializers.{name}", rank=len(shape), **args)
    faults = law_faults(haiku_draw(haiku_init, shape), jax_draw(ours, shape), bounded=bounded)
    assert not faults, faults


@pytest.mark.parametrize(("shape", "axis"), [((100, 200), -1), ((200, 100), 0), ((4, 50, 60), 1)])
def test_orthogonal_rows_are_orthonormal_along_the_same_axis(shape, axis):
    ours = jax_draw(table.build("haiku.initializers.Orthogonal", axis=axis), shape)
    theirs = haiku_draw(I.Orthogonal(axis=axis), shape)
    for sample in (ours, theirs):
        flat = np.moveaxis(sample, axis, 0).reshape(shape[axis], -1)
        gram = flat @ flat.T if flat.shape[0] <= flat.shape[1] else flat.T @ flat
        np.testing.assert_allclose(gram, np.eye(len(gram)), atol=1e-4)


def test_zeros_and_ones_are_exact():
    for name, value in (("jax.numpy.zeros", 0.0), ("jax.numpy.ones", 1.0)):
        np.testing.assert_array_equal(jax_draw(table.build(name), (3, 4)), np.full((3, 4), value))


def test_every_haiku_initializer_has_a_rule():
    public = {f"haiku.initializers.{n}" for n in dir(hk.initializers)
              if isinstance(getattr(hk.initializers, n), type) and n != "Initializer"}
    assert public <= set(table.BY_HAIKU)
    assert {f"haiku.initializers.{name}" for name, *_ in CASES} == public


def test_rules_are_checked_and_every_form_is_built():
    """Each rule's source and compat forms both evaluate (the compat one with non-default args)."""
    for rule in table.RULES:
        args = {n: repr(0.5 if d == table.REQUIRED else d) for n, d in rule.params}
        for form in (rule.source, rule.compat):
            if form is not None:
                text = form.format(**args, axes="")
                eval(text, dict(table.NAMESPACE))  # noqa: S307


def test_literal_requirements_pick_the_builtin_form_and_others_the_compat_form():
    normal = "haiku.initializers.RandomNormal"
    assert table.initializer_source(normal, {"mean": "0"}).text == "jax.nn.initializers.normal(1.0)"
    shifted = table.initializer_source(normal, {"mean": "mu"})
    assert shifted.text.startswith("shifted(") and shifted.compat == {"shifted"}
    scaled = table.initializer_source("haiku.initializers.UniformScaling", {"scale": "-a"})
    assert "(-a) ** 2" in scaled.text


def test_layout_axes_and_low_ranks():
    vs = "haiku.initializers.VarianceScaling"
    assert table.initializer_source(vs, rank=1).text.endswith("in_axis=(), out_axis=())")
    assert "in_axis=-1, out_axis=-2" in table.initializer_source(vs, in_axis=-1, out_axis=-2).text
    with pytest.raises(ValueError, match="rank"):
        table.initializer_source(vs, {"fan_in_axes": "(0,)"})
    with pytest.raises(ValueError, match="needs `constant`"):
        table.initializer_source("haiku.initializers.Constant")


def test_bad_names_and_arguments_say_what_is_known():
    with pytest.raises(ValueError, match="known: haiku.initializers.Constant"):
        table.initializer_source("haiku.initializers.Nope")
    with pytest.raises(ValueError, match="takes no argument wat"):
        table.initializer_source("haiku.initializers.RandomNormal", {"wat": "1"})


def test_source_text_is_valid_python_for_every_rule():
    for rule in table.RULES:
        args = {"constant": "0.5"} if rule.haiku.endswith("Constant") else {}
        ast.parse(table.initializer_source(rule.haiku, args).text, mode="eval")


def test_linear_default_is_narrower_than_lecun_normal():
    """The control: the KS check does tell hk.Linear's default from nnx.Linear's."""
    shape = (100, 200)
    haiku = haiku_draw(I.TruncatedNormal(1 / np.sqrt(100)), shape)
    assert law_faults(haiku, jax_draw(jax.nn.initializers.lecun_normal(), shape))
    assert not law_faults(haiku, jax_draw(table.build(table.FAN_IN_TRUNCATED), shape))
