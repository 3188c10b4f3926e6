"""What no rule rewrites survives `hk2nnx convert` byte for byte: endings, tabs, encodings, BOMs."""

from __future__ import annotations

import pytest

from hk2nnx.cli import main

KEPT = [
    "# a comment with trailing spaces   ",
    "# naïve café — ünïcödé",
    "GREETING = 'grüße'  # trailing tab\t",
    "\x0c",
    "def helper(v):",
    "{ind}'''Docstring kept: é.'''",
    "{ind}return v * 2",
    "",
]
HAIKU = [
    "import haiku as hk",
    "import jax",
    "import jax.numpy as jnp",
    "",
    "",
    "class Net(hk.Module):",
    "{ind}def __call__(self, x):",
    "{ind}{ind}return hk.Linear(3)(x)  # keep me",
    "",
    "",
    "def forward(x):",
    "{ind}return Net()(x)",
    "",
    "",
    "model = hk.transform(forward)",
    "params = model.init(jax.random.key(0), jnp.ones((1, 4)))",
]


def build(newline: str = "\n", ind: str = "    ", head: tuple[str, ...] = (),
          final_newline: bool = True) -> str:
    lines = [*head, *HAIKU[:3], *KEPT, *HAIKU[3:]]
    text = newline.join(line.format(ind=ind) for line in lines)
    return text + newline if final_newline else text


def convert_bytes(tmp_path, data: bytes) -> tuple[int, bytes | None]:
    src, out = tmp_path / "in" / "net.py", tmp_path / "out"
    src.parent.mkdir(exist_ok=True)
    src.write_bytes(data)
    code = main(["convert", str(src), "-o", str(out)])
    assert src.read_bytes() == data
    target = out / "net.py"
    return code, target.read_bytes() if target.exists() else None


def kept_lines(encoding: str, newline: str, ind: str) -> list[bytes]:
    return [(line.format(ind=ind) + newline).encode(encoding) for line in KEPT[:-1]]


def assert_kept(result: bytes, encoding: str, newline: str, ind: str) -> None:
    lines = result.splitlines(keepends=True)
    for line in kept_lines(encoding, newline, ind):
        assert line in lines, (line, result)
    assert b"nnx.Linear" in result and b"# keep me" in result


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
@pytest.mark.parametrize("ind", ["    ", "\t"], ids=["spaces", "tabs"])
def test_untouched_lines_and_line_endings_survive(tmp_path, newline, ind):
    code, result = convert_bytes(tmp_path, build(newline, ind).encode("utf-8"))
    assert code == 1
    assert_kept(result, "utf-8", newline, ind)
    if newline == "\r\n":
        assert result.count(b"\n") == result.count(b"\r\n")


def test_no_final_newline_is_not_an_error(tmp_path):
    code, result = convert_bytes(tmp_path, build(final_newline=False).encode("utf-8"))
    assert code == 1
    assert_kept(result, "utf-8", "\n", "    ")


def test_latin1_file_is_read_and_written_in_its_encoding(tmp_path):
    head = ("# -*- coding: latin-1 -*-",)
    text = build(head=head).replace("—", "-").replace("ünïcödé", "ünïcödé")
    code, result = convert_bytes(tmp_path, text.encode("latin-1"))
    assert code == 1
    assert result.startswith(b"# -*- coding: latin-1 -*-\n")
    assert "grüße".encode("latin-1") in result and b"nnx.Linear" in result
    result.decode("latin-1")
    with pytest.raises(UnicodeDecodeError):
        result.decode("utf-8")


def test_utf8_bom_is_kept(tmp_path):
    code, result = convert_bytes(tmp_path, b"\xef\xbb\xbf" + build().encode("utf-8"))
    assert code == 1
    assert result.startswith(b"\xef\xbb\xbf") and not result.startswith(b"\xef\xbb\xbf" * 2)
    assert_kept(result, "utf-8", "\n", "    ")


@pytest.mark.parametrize("flag", ["-o", "--in-place"])
def test_bytes_invalid_in_declared_encoding_are_refused(tmp_path, capsys, flag):
    src = tmp_path / "bad.py"
    data = build().encode("utf-8").replace("grüße".encode(), b"gr\xfc\xdfe")  # latin-1 bytes
    src.write_bytes(data)
    out = tmp_path / "out"
    args = ["convert", str(src), *([flag, str(out)] if flag == "-o" else [flag])]
    assert main(args) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and str(src) in err[0] and "utf-8" in err[0].lower(), err
    assert src.read_bytes() == data
    assert not out.exists()


def test_unknown_declared_encoding_is_refused(tmp_path, capsys):
    src = tmp_path / "odd.py"
    data = build(head=("# coding: no-such-codec",)).encode("utf-8")
    src.write_bytes(data)
    assert main(["convert", str(src), "--in-place"]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(err) == 1 and str(src) in err[0] and "no-such-codec" in err[0], err
    assert src.read_bytes() == data
