"""`convert --in-place` never loses code: modes kept, no temp files, every file either old or new."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

from hk2nnx.cli import main
from hk2nnx.convert import cli as convert_cli

NET = """import haiku as hk
import jax
import jax.numpy as jnp


class Net{i}(hk.Module):
    def __call__(self, x):
        return hk.Linear({i} + 1)(x)


def forward(x):
    return Net{i}()(x)


model = hk.transform(forward)
params = model.init(jax.random.key(0), jnp.ones((1, 4)))
"""
BROKEN = "import haiku as hk\ndef f(:\n"


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "hk2nnx.cli", "convert", *args],
                          check=False, capture_output=True, text=True, timeout=120)


def make_tree(root: Path, count: int) -> dict[Path, bytes]:
    root.mkdir(parents=True, exist_ok=True)
    files = {root / f"net_{i:02d}.py": NET.format(i=i).encode() for i in range(count)}
    for path, data in files.items():
        path.write_bytes(data)
    return files


def assert_old_or_new(files: dict[Path, bytes]) -> int:
    """Every file is its original bytes or a complete conversion; returns how many converted."""
    converted = 0
    for path, original in files.items():
        now = path.read_bytes()
        if now != original:
            compile(now, str(path), "exec")
            assert b"from flax import nnx" in now and b"haiku" not in now, path
            converted += 1
    leftovers = [p.name for p in next(iter(files)).parent.iterdir() if p.name.endswith(".tmp")]
    assert not leftovers
    return converted


def test_in_place_keeps_modes_and_leaves_no_temp_files(tmp_path):
    files = make_tree(tmp_path / "src", 2)
    broken = tmp_path / "src" / "broken.py"
    broken.write_text(BROKEN)
    modes = dict(zip([*files, broken], [0o640, 0o755, 0o640]))
    for path, mode in modes.items():
        os.chmod(path, mode)
    result = run_cli(str(tmp_path / "src"), "--in-place")
    assert result.returncode == 2, result.stderr
    assert [line for line in result.stderr.splitlines() if "syntax error" in line] == [
        f"{broken}:2:7: syntax error: invalid syntax"]
    assert broken.read_text() == BROKEN
    assert assert_old_or_new(files) == 2
    assert {p: stat.S_IMODE(os.stat(p).st_mode) for p in modes} == modes


def test_check_and_diff_write_nothing(tmp_path):
    files = make_tree(tmp_path / "src", 2)
    before = {p: os.stat(p).st_mtime_ns for p in files}
    assert run_cli(str(tmp_path / "src"), "--check").returncode == 1
    assert main(["convert", str(tmp_path / "src"), "--diff"]) == 1
    assert {p: os.stat(p).st_mtime_ns for p in files} == before
    assert assert_old_or_new(files) == 0
    assert sorted(p.name for p in (tmp_path / "src").iterdir()) == sorted(p.name for p in files)


def test_output_folder_never_touches_inputs(tmp_path):
    files = make_tree(tmp_path / "src", 2)
    assert main(["convert", str(tmp_path / "src"), "-o", str(tmp_path / "out"), "-j", "2"]) == 1
    assert assert_old_or_new(files) == 0
    assert all((tmp_path / "out" / p.name).exists() for p in files)


def test_interrupt_during_a_write_leaves_the_file_old(tmp_path, monkeypatch):
    files = make_tree(tmp_path / "src", 4)
    real_replace, calls = os.replace, []

    def replace_then_interrupt(src, dst):
        calls.append(dst)
        if len(calls) == 3:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(convert_cli.os, "replace", replace_then_interrupt)
    assert main(["convert", str(tmp_path / "src"), "--in-place"]) == 130
    assert assert_old_or_new(files) == 2
    assert files[Path(calls[2])] == Path(calls[2]).read_bytes()


def test_ctrl_c_while_the_temporary_file_is_made_strands_nothing(tmp_path, monkeypatch):
    """Ctrl-C between creating the temporary file and knowing its name used to leave it behind."""
    files = make_tree(tmp_path / "src", 3)
    real_mkstemp, calls = convert_cli.tempfile.mkstemp, []

    def mkstemp_then_sigint(*args, **kwargs):
        made = real_mkstemp(*args, **kwargs)
        calls.append(made)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return made

    monkeypatch.setattr(convert_cli.tempfile, "mkstemp", mkstemp_then_sigint)
    assert main(["convert", str(tmp_path / "src"), "--in-place"]) == 130
    assert assert_old_or_new(files) == 2


def test_converter_crash_on_one_file_leaves_it_and_converts_the_others(tmp_path, monkeypatch,
                                                                       capsys):
    files = make_tree(tmp_path / "src", 3)
    real, victim = convert_cli.convert_any, str(sorted(files)[1])

    def crash_on_victim(source, *, filename, inputs):
        if filename == victim:
            raise RuntimeError("boom")
        return real(source, filename=filename, inputs=inputs)

    monkeypatch.setattr(convert_cli, "convert_any", crash_on_victim)
    assert main(["convert", str(tmp_path / "src"), "--in-place"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if victim in line]
    assert len(err) == 1 and "internal error" in err[0] and "boom" in err[0]
    assert assert_old_or_new(files) == 2
    assert Path(victim).read_bytes() == files[Path(victim)]


def test_sigint_mid_run_leaves_every_file_old_or_new(tmp_path):
    files = make_tree(tmp_path / "src", 16)
    proc = subprocess.Popen([sys.executable, "-m", "hk2nnx.cli", "convert", str(tmp_path / "src"),
                             "--in-place"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and proc.poll() is None:
        if any(p.read_bytes() != data for p, data in files.items()):
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    converted = assert_old_or_new(files)
    assert converted >= 1
    if proc.returncode == 130:
        assert b"interrupted" in err
    else:  # the signal came after the last write: 1 from main, -SIGINT during interpreter exit
        assert proc.returncode in (1, -signal.SIGINT) and converted == len(files), err
