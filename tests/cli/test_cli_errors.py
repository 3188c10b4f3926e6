"""Bad input on the command line: one clear line, a non-zero exit, no traceback, nothing written."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "guide" / "variable_creation.py"


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hk2nnx.cli", *args], capture_output=True,
                          text=True, cwd=cwd or ROOT, timeout=300)


def assert_one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    assert result.returncode == 2, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_spec_that_does_not_parse(tmp_path):
    result = run_cli("port", str(tmp_path / "ckpt.npz"), "--model", f"{EXAMPLE}:model",
                     "--input", "f32[1,x]", "-o", str(tmp_path / "out.safetensors"))
    assert_one_line_error(result, "f32[1,x]")
    assert not (tmp_path / "out.safetensors").exists()


def test_target_without_colon_name():
    assert_one_line_error(run_cli("port", "x.npz", "--model", str(EXAMPLE), "--input", "f32[1,2]",
                                  "-o", "y.npz"), "FILE.py:NAME")


def test_missing_attribute_lists_what_the_file_defines(tmp_path):
    result = run_cli("port", str(tmp_path / "c.npz"), "--model", f"{EXAMPLE}:nope",
                     "--input", "f32[3,20]", "-o", str(tmp_path / "o.npz"))
    assert_one_line_error(result, "variable_creation.py", "'nope'", "model")


def test_file_with_a_syntax_error_names_file_and_line(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("import haiku as hk\n\ndef f(x:\n    return x\n")
    result = run_cli("port", "c.npz", "--model", f"{broken}:f", "--input", "f32[1]",
                     "-o", str(tmp_path / "o.npz"))
    assert_one_line_error(result, "broken.py:3", "syntax error")


def test_file_with_no_haiku(tmp_path):
    plain = tmp_path / "plain.py"
    plain.write_text("def f(x):\n    return x * 2\n")
    result = run_cli("port", str(tmp_path / "c.npz"), "--model", f"{plain}:f",
                     "--input", "f32[2]", "-o", str(tmp_path / "o.npz"))
    assert_one_line_error(result, "no Haiku modules or parameters")
    assert not (tmp_path / "o.npz").exists()


def test_bad_kwarg():
    result = run_cli("port", "c.npz", "--model", f"{EXAMPLE}:model", "--input", "f32[3,20]",
                     "--kwarg", "training", "-o", "o.npz")
    assert_one_line_error(result, "NAME=VALUE")


@pytest.mark.parametrize("flag", ["--verbose"])
def test_verbose_shows_traceback(tmp_path, flag):
    plain = tmp_path / "plain.py"
    plain.write_text("def f(x):\n    return x * 2\n")
    result = run_cli("port", "c.npz", "--model", f"{plain}:f", "--input", "f32[2]",
                     "-o", str(tmp_path / "o.npz"), flag)
    assert result.returncode == 2 and "Traceback" in result.stderr
