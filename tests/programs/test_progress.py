"""The progress bar shows on a terminal and stays silent in pipes, logs and tests."""

from __future__ import annotations

import io

from hk2nnx.convert.progress import track


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_not_a_terminal():
    stream = io.StringIO()
    assert list(track(range(5), total=5, stream=stream)) == [0, 1, 2, 3, 4]
    assert stream.getvalue() == ""


def test_draws_on_a_terminal():
    stream = _Terminal()
    assert list(track(iter("abc"), total=3, label="files", stream=stream)) == ["a", "b", "c"]
    assert "files" in stream.getvalue()


def test_one_file_needs_no_bar():
    stream = _Terminal()
    assert list(track(["x"], total=1, stream=stream)) == ["x"]
    assert stream.getvalue() == ""


def test_cli_run_prints_no_bar_into_a_pipe(tmp_path, capsys):
    from hk2nnx.cli import main

    for n in range(3):
        (tmp_path / f"m{n}.py").write_text("x = 1\n")
    assert main(["convert", str(tmp_path), "--check"]) == 0
    assert capsys.readouterr().err == ""
