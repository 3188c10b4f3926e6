"""`hk2nnx convert`: stdout, -o, --in-place, --diff, --check, --input, -j and exit codes."""

from __future__ import annotations

import os
import stat

import pytest

from hk2nnx.cli import main

HAIKU = '''import haiku as hk
import jax
import jax.numpy as jnp


class Net(hk.Module):
    def __call__(self, x):
        return hk.Linear(3)(x)


def forward(x):
    return Net()(x)


model = hk.transform(forward)
params = model.init(jax.random.key(0), {sample})
'''
STATIC = HAIKU.format(sample="jnp.ones((1, 4))")
DYNAMIC = HAIKU.format(sample="load_batch()")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "src"
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "net.py").write_text(STATIC)
    (root / "plain.py").write_text("x = 1\n")
    return root


def test_single_file_prints_the_result(tree, capsys):
    assert main(["convert", str(tree / "pkg" / "net.py")]) == 1
    out = capsys.readouterr().out
    assert "model = Net(4, rngs=nnx.Rngs(0))" in out and "haiku" not in out
    assert (tree / "pkg" / "net.py").read_text() == STATIC


def test_clean_file_exits_zero(tree, capsys):
    assert main(["convert", str(tree / "plain.py")]) == 0
    assert capsys.readouterr().out == "x = 1\n"


def test_folder_needs_a_destination(tree, capsys):
    assert main(["convert", str(tree)]) == 2
    assert "-o OUTDIR or --in-place" in capsys.readouterr().err


def test_output_folder_mirrors_the_tree(tree, tmp_path):
    out = tmp_path / "out"
    assert main(["convert", str(tree), "-o", str(out), "--mode", "idiomatic"]) == 1
    assert "nnx.Linear(in_features, 3, rngs=rngs)" in (out / "pkg" / "net.py").read_text()
    assert (out / "plain.py").read_text() == "x = 1\n"
    assert (tree / "pkg" / "net.py").read_text() == STATIC


def test_in_place_is_atomic_and_keeps_the_mode(tree):
    path = tree / "pkg" / "net.py"
    os.chmod(path, 0o640)
    assert main(["convert", str(tree), "--in-place"]) == 1
    assert "from flax import nnx" in path.read_text()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    assert main(["convert", str(tree), "--in-place"]) == 0  # idempotent


def test_check_writes_nothing(tree, capsys):
    assert main(["convert", str(tree), "--check"]) == 1
    assert "would convert" in capsys.readouterr().err
    assert (tree / "pkg" / "net.py").read_text() == STATIC


def test_diff_prints_a_unified_diff(tree, capsys):
    assert main(["convert", str(tree), "--diff"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("---") and "-import haiku as hk" in out and "+from flax import nnx" in out


def test_syntax_error_is_one_line_and_others_still_convert(tree, tmp_path, capsys):
    (tree / "broken.py").write_text("import haiku as hk\ndef f(:\n")
    out = tmp_path / "out"
    assert main(["convert", str(tree), "-o", str(out), "-j", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert [line for line in err if "syntax error" in line] == [
        f"{tree / 'broken.py'}:2:7: syntax error: invalid syntax"]
    assert not (out / "broken.py").exists()
    assert (out / "pkg" / "net.py").exists()


def test_input_gives_sizes_the_file_does_not(tmp_path, capsys):
    path = tmp_path / "dyn.py"
    path.write_text(DYNAMIC)
    assert main(["convert", str(path)]) == 1
    captured = capsys.readouterr()
    assert "--input forward=f32[...]" in captured.err
    assert main(["convert", str(path), "--input", "forward=f32[8,6]"]) == 1
    assert "model = Net(6, rngs=nnx.Rngs(0))" in capsys.readouterr().out


def test_bad_input_spec_is_a_usage_error(tree, capsys):
    assert main(["convert", str(tree / "plain.py"), "--input", "forward=f32(1)"]) == 2
    assert "expected dtype[shape]" in capsys.readouterr().err
