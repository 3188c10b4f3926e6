"""The new-user flow on a real model: train Haiku ResNet18, `hk2nnx port` it into NNX, and back.

Runs the example's own training code to make a pickled checkpoint, then the real `hk2nnx port`
command (as a subprocess) into a .safetensors file and an orbax directory, loads each into the
hand-written NNX ResNet18, and checks it computes what Haiku computes; `--reverse` must give the
original checkpoint back bit for bit. The trace asks for `is_training=False`, as a user porting
for inference would, although Haiku's BatchNorm creates its moving averages only in training mode.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import pickle
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import jax
import numpy as np
import pytest
from flax import nnx

import hk2nnx
from hk2nnx.port.api import nnx_variables, port_to_nnx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "resnet18"
MODEL_ARGS = ["--model", "examples/resnet18/haiku_train.py:model", "--input", "f32[1,32,32,3]",
              "--kwarg", "is_training=False"]
INTO = ["--into", "examples/resnet18/nnx_resnet18.py:make_model"]
RTOL = 1e-5


def _load(name: str) -> ModuleType:
    """Imports an example file by path (examples/ is not a package)."""
    path = EXAMPLE / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"_resnet18_example_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


haiku_train = _load("haiku_train")
nnx_resnet18 = _load("nnx_resnet18")


@dataclasses.dataclass(frozen=True)
class Trained:
    checkpoint: Path
    params: dict
    state: dict
    losses: list[float]


@dataclasses.dataclass(frozen=True)
class Ported:
    safetensors: Path
    orbax: Path


def _port(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "hk2nnx.cli", "port", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(*procs: subprocess.Popen) -> list[str]:
    """Waits for CLI runs started together (they mostly import jax, so overlap pays off)."""
    outputs, failures = [], []
    for proc in procs:
        try:
            out, err = proc.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            for started in procs:  # only the processes this test started
                started.kill()
            raise
        outputs.append(out)
        if proc.returncode != 0:
            failures.append(f"{' '.join(proc.args[2:])}\nexit {proc.returncode}\n{err}")
    if failures:
        pytest.fail("hk2nnx port failed:\n" + "\n\n".join(failures))
    return outputs


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    params, state, losses = haiku_train.train()
    path = haiku_train.save_checkpoint(tmp_path_factory.mktemp("haiku") / "resnet18.pkl",
                                       params, state)
    with path.open("rb") as f:
        saved = pickle.load(f)
    return Trained(path, saved["params"], saved["state"], losses)


@pytest.fixture(scope="module")
def ported(trained: Trained, tmp_path_factory: pytest.TempPathFactory) -> Ported:
    out = tmp_path_factory.mktemp("nnx")
    result = Ported(out / "resnet18.safetensors", out / "resnet18_orbax")
    outputs = _finish(
        _port(str(trained.checkpoint), *MODEL_ARGS, *INTO, "-o", str(result.safetensors)),
        _port(str(trained.checkpoint), *MODEL_ARGS, *INTO, "-o", str(result.orbax)))
    for text in outputs:
        assert "residual Haiku leaves kept" in text, text
    return result


@pytest.fixture(scope="module")
def probe() -> jax.Array:
    return jax.random.normal(jax.random.key(42), (4, 32, 32, 3)) * 1.5 + 0.3


def _haiku_logits(trained: Trained, x: jax.Array, is_training: bool) -> np.ndarray:
    """Eager on purpose: Haiku and NNX run the same primitives, so they share compile caches."""
    logits, _ = haiku_train.model.apply(trained.params, trained.state, None, x,
                                        is_training=is_training)
    return np.asarray(logits)


@pytest.fixture(scope="module")
def haiku_eval(trained: Trained, probe: jax.Array) -> np.ndarray:
    return _haiku_logits(trained, probe, False)


def _empty_model() -> nnx.Module:
    """make_model() with abstract leaves: the port fills every one, so skip random init."""
    return nnx.eval_shape(nnx_resnet18.make_model)


def _assert_close(got: np.ndarray, want: np.ndarray) -> None:
    assert np.abs(want).max() > 1e-2, "reference logits are ~0: the check would prove nothing"
    np.testing.assert_allclose(got, want, rtol=RTOL, atol=RTOL * np.abs(want).max())


def test_checkpoint_is_trained_with_nontrivial_batchnorm_state(trained: Trained) -> None:
    assert len(trained.losses) == haiku_train.TRAIN_STEPS
    assert all(np.isfinite(trained.losses))
    bn = trained.state["res_net18/~/initial_batchnorm/~/mean_ema"]
    assert int(bn["counter"]) == haiku_train.TRAIN_STEPS
    assert np.abs(bn["average"]).max() > 1e-3
    assert np.abs(trained.params["res_net18/~/logits"]["w"]).max() > 0  # Haiku inits it to 0
    leaves = jax.tree.leaves((trained.params, trained.state))
    assert all(type(leaf) is np.ndarray for leaf in leaves)


def test_nnx_model_paths_are_the_naming_scheme_paths() -> None:
    program = hk2nnx.trace(haiku_train.model, hk2nnx.TensorSpec.parse("f32[1,32,32,3]"),
                           is_training=False)
    traced = {p for v in program.variables for p in v.nnx_path.split(",")}
    model = _empty_model()
    assert set(nnx_variables(model)) == traced
    assert "block_group_1.block_0.shortcut_batchnorm.mean" in traced


def test_in_process_port_matches_haiku_in_eval_and_train_mode(
        trained: Trained, probe: jax.Array, haiku_eval: np.ndarray) -> None:
    program = hk2nnx.trace(haiku_train.model, hk2nnx.TensorSpec.parse("f32[1,32,32,3]"),
                           is_training=False)
    model = _empty_model()
    port_to_nnx(trained.params, trained.state, model, program=program)
    model.eval()
    _assert_close(np.asarray(model(probe)), haiku_eval)
    model.train()  # batch statistics, like Haiku's is_training=True
    _assert_close(np.asarray(model(probe)), _haiku_logits(trained, probe, True))


@pytest.mark.parametrize("kind", ["safetensors", "orbax"])
def test_cli_port_loads_into_nnx_and_matches_haiku_eval(
        ported: Ported, probe: jax.Array, haiku_eval: np.ndarray, kind: str) -> None:
    from hk2nnx.port import formats

    model = formats.load_into(_empty_model(), getattr(ported, kind))
    model.eval()
    _assert_close(np.asarray(model(probe)), haiku_eval)


def _assert_bit_exact(params: dict, state: dict, trained: Trained) -> None:
    for got, want in ((params, trained.params), (state, trained.state)):
        assert {m: set(v) for m, v in got.items()} == {m: set(v) for m, v in want.items()}
        for module, leaves in want.items():
            for name, x in leaves.items():
                y = np.asarray(got[module][name])
                where = f"{module}/{name}"
                assert y.dtype == x.dtype and y.shape == x.shape, where
                assert np.array_equal(y, x), where


def test_cli_reverse_gives_back_the_original_bit_exactly(
        trained: Trained, ported: Ported, tmp_path: Path) -> None:
    from hk2nnx.port import formats

    back_pkl, back_npz = tmp_path / "back.pkl", tmp_path / "back.npz"
    _finish(_port(str(ported.safetensors), *MODEL_ARGS, "--reverse", "-o", str(back_pkl)),
            _port(str(ported.orbax), *MODEL_ARGS, "--reverse", "-o", str(back_npz)))
    with back_pkl.open("rb") as f:
        saved = pickle.load(f)
    _assert_bit_exact(saved["params"], saved["state"], trained)
    _assert_bit_exact(*formats.read_haiku_checkpoint(back_npz), trained)
