"""Every subcommand's bad input: one stderr line naming the file, exit 2, a traceback only if --verbose.

Complements tests/cli/test_cli_errors.py (port's argument errors); runs in-process through
`hk2nnx.cli.main` except one check of the real `python -m hk2nnx.cli` entry point.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from hk2nnx.cli import main

HAIKU = "import haiku as hk\n\n\ndef conv(x):\n    return hk.Conv2D(4, 3)(x)\n"
NOT_NNX = "not_a_module = 3\n\n\ndef factory():\n    return 'nope'\n"


def error_lines(capsys) -> tuple[list[str], str]:
    err = capsys.readouterr().err
    return [line for line in err.splitlines() if line.strip()], err


def assert_one_line(code: int, capsys, *fragments: str) -> None:
    lines, err = error_lines(capsys)
    assert code == 2, err
    assert len(lines) == 1 and "Traceback" not in err, err
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture
def files(tmp_path):
    (tmp_path / "model.py").write_text(HAIKU)
    (tmp_path / "target.py").write_text(NOT_NNX)
    (tmp_path / "blob.py").write_bytes(b"import haiku as hk\n\x00\xff\xfe\x01binary")
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text("x = 1\n")
    return tmp_path


def test_real_entry_point_missing_path(tmp_path):
    missing = tmp_path / "nope.py"
    result = subprocess.run([sys.executable, "-m", "hk2nnx.cli", "convert", str(missing)],
                            check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"hk2nnx convert: error: {missing}: no such file or folder"]


def test_convert_folder_without_destination(files, capsys):
    assert_one_line(main(["convert", str(files / "pkg")]), capsys, "-o OUTDIR", "--in-place")


@pytest.mark.parametrize("flag", [[], ["--in-place"], ["--check"]])
def test_convert_binary_file(files, capsys, flag):
    before = (files / "blob.py").read_bytes()
    assert_one_line(main(["convert", str(files / "blob.py"), *flag]), capsys,
                    f"{files / 'blob.py'}:2", "not valid utf-8")
    assert (files / "blob.py").read_bytes() == before


def test_inspect_spec_of_the_wrong_rank(files, capsys):
    code = main(["inspect", f"{files / 'model.py'}:conv", "--input", "f32[3]"])
    assert_one_line(code, capsys, "model.py:conv", "rank")


def test_inspect_verbose_adds_the_traceback(files, capsys):
    code = main(["inspect", f"{files / 'model.py'}:conv", "--input", "f32[3]", "--verbose"])
    lines, err = error_lines(capsys)
    assert code == 2 and "Traceback" in err and "model.py:conv" in lines[-1]


@pytest.mark.parametrize("name", ["not_a_module", "factory"])
def test_verify_target_that_is_not_an_nnx_module_names_it(files, capsys, name):
    code = main(["verify", f"{files / 'model.py'}:conv", f"{files / 'target.py'}:{name}",
                 "--input", "f32[1,8,8,3]"])
    assert_one_line(code, capsys, f"target.py:{name}")


def test_verify_target_that_is_not_an_nnx_module(files, capsys):
    code = main(["verify", f"{files / 'model.py'}:conv", f"{files / 'target.py'}:not_a_module",
                 "--input", "f32[1,8,8,3]", "--verbose"])
    lines, err = error_lines(capsys)
    assert code == 2 and "Traceback" in err and "nnx.Module" in lines[-1]


def test_convert_internal_error_is_one_line_and_verbose_adds_the_traceback(tmp_path, capsys,
                                                                           monkeypatch):
    from hk2nnx.convert import cli as convert_cli

    def broken(*args, **kwargs):
        raise RuntimeError("rule exploded")

    monkeypatch.setattr(convert_cli, "convert_any", broken)
    source = tmp_path / "m.py"
    source.write_text("import haiku as hk\n")
    assert main(["convert", str(source)]) == 2
    err = capsys.readouterr().err
    assert "internal error" in err and "Traceback" not in err
    assert main(["convert", str(source), "--verbose"]) == 2
    err = capsys.readouterr().err
    assert "rule exploded" in err and "Traceback" in err
