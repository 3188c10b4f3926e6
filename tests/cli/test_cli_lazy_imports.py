"""`hk2nnx port` and `inspect` start without importing the converter (libcst costs ~1 s)."""

import subprocess
import sys

import pytest

PROBE = """
import sys
from hk2nnx import cli
try:
    cli.main({argv!r})
except SystemExit:
    pass
print("LIBCST" if "libcst" in sys.modules else "NO-LIBCST")
print("PORT" if "hk2nnx._cli.port_cmd" in sys.modules else "NO-PORT")
"""


def _probe(argv: list[str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", PROBE.format(argv=argv)], capture_output=True,
                         text=True, timeout=120, check=True).stdout
    return out.split()[-2:]


@pytest.mark.parametrize("argv", [["port", "--help"], ["inspect", "--help"], ["--help"]])
def test_commands_other_than_convert_do_not_import_libcst(argv):
    libcst, _ = _probe(argv)
    assert libcst == "NO-LIBCST"


def test_only_the_chosen_command_module_is_imported():
    assert _probe(["inspect", "--help"])[1] == "NO-PORT"
    assert _probe(["port", "--help"])[1] == "PORT"


def test_convert_still_gets_its_arguments_and_help_lists_every_command(capsys):
    from hk2nnx import cli

    with pytest.raises(SystemExit):
        cli.main(["--help"])
    listed = capsys.readouterr().out
    assert all(name in listed for name in ("convert", "port", "verify", "inspect"))
    with pytest.raises(SystemExit):
        cli.main(["convert", "--help"])
    assert "--in-place" in capsys.readouterr().out
