"""`convert --report` verifies each converted model whose sample inputs are known.

One run over copies of a guide example: the faithful conversion passes; a conversion patched to
rename a weight or to compute something else fails; an `init` input built from an imported size
is evaluated; one fed by the user's own function is skipped with the `--input` hint; a file whose
definitions raise is one ERROR line, not an abort.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from hk2nnx.convert import cli

GUIDE = Path(__file__).resolve().parents[2] / "examples" / "guide"
# What each copy's conversion is patched into (a mis-converted file, as a converter bug makes).
PATCHES = {"renamed.py": ("self.gain", "self.scale"), "wrong.py": ("x * gain", "x * gain * 2")}


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("verify") / "src"
    src.mkdir()
    text = (GUIDE / "top_level_function.py").read_text()
    for name in ("ok.py", *PATCHES):
        (src / name).write_text(text)
    (src / "unknown.py").write_text(text.replace("jnp.ones((3, 4))", "load()").replace(
        "\n\nmodel =", "\n\ndef load():\n    return jnp.ones((3, 4))\n\n\nmodel ="))
    (src / "sizes.py").write_text("WIDTH = 4\n")
    imported = text.replace("jnp.ones((3, 4))", "jnp.ones((3, WIDTH))")
    (src / "imported.py").write_text(imported.replace(
        "import jax.numpy as jnp\n", "import jax.numpy as jnp\nfrom sizes import WIDTH\n"))
    (src / "raises.py").write_text(text.replace("\n\nmodel =", "\n\nSCALE = int('boom')\nmodel ="))
    return src


def _patched(convert_one):
    def run(job):
        path, result, source = convert_one(job)
        old_new = PATCHES.get(Path(path).name)
        if result is not None and old_new:
            result = type(result)(result.code.replace(*old_new), True, result.findings,
                                  result.filename)
        return path, result, source
    return run


@pytest.fixture(scope="module")
def lines(project, tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("out")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli, "_convert_one", _patched(cli._convert_one))
        assert cli.run(cli_args(project, "-o", out / "nnx", "--report", str(out / "r.md"))) == 1
    text = (out / "r.md").read_text()
    found = re.findall(r"^- \S+/(\w+)\.py model: (.*)$", text, re.MULTILINE)
    return dict(found)


def cli_args(*args) -> object:
    import argparse

    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    return parser.parse_args([str(a) for a in args])


def test_a_faithful_conversion_passes(lines):
    assert re.fullmatch(r"PASS outputs 1/1 max abs \S+ rel \S+; grads 2/2 max abs \S+ rel \S+; "
                        r"state 1/1 max abs \S+ rel \S+ \(eval mode\)", lines["ok"]), lines["ok"]


def test_a_renamed_weight_fails(lines):
    assert lines["renamed"].startswith("FAIL weights do not fit:"), lines["renamed"]
    assert "gain" in lines["renamed"]


def test_different_numbers_fail_with_their_size(lines):
    assert re.match(r"FAIL outputs 0/1 max abs [1-9]", lines["wrong"]), lines["wrong"]


def test_inputs_built_from_imported_names_are_evaluated(lines):
    assert lines["imported"].startswith("PASS outputs 1/1"), lines["imported"]


def test_unknown_inputs_are_skipped_with_the_flag_to_give_them(lines):
    assert lines["unknown"] == "SKIP sample inputs unknown: give --input model=SPEC"


def test_a_file_that_raises_is_one_error_line(lines):
    assert lines["raises"].startswith("ERROR could not verify: ValueError: invalid literal")


def test_no_verify_skips_it(project, tmp_path):
    report = tmp_path / "r.md"
    cli.run(cli_args(project / "ok.py", "-o", tmp_path, "--report", report, "--no-verify"))
    text = report.read_text()
    assert "verify: 0 passed, 0 failed, 0 skipped" in text and "PASS" not in text


def test_in_place_project_verifies_the_originals_not_the_rewritten_siblings(tmp_path):
    """train.py imports models.py: in place, the originals are gone from disk by report time."""
    project = tmp_path / "mnist"
    shutil.copytree(GUIDE.parent / "projects" / "mnist_dropout", project)
    cli.run(cli_args(project, "--in-place", "--report", tmp_path / "r.md"))
    assert "class Classifier(nnx.Module)" in (project / "models.py").read_text()
    text = (tmp_path / "r.md").read_text()
    line = r"^- \S+/train\.py model: PASS outputs 1/1 .*\(train mode, dropout: rate 0\)$"
    assert re.search(line, text, re.MULTILINE), text[:2000]


def test_a_bad_report_name_fails_before_anything_is_written(project, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.run(cli_args(project / "ok.py", "-o", out, "--report", tmp_path / "r.txt")) == 2
    assert "use a .md or .html file name" in capsys.readouterr().err and not out.exists()


def test_idiomatic_mode_is_verified_as_converted(tmp_path):
    """NNX's own BatchNorm (no compat class): the port and verify follow what was emitted."""
    report = tmp_path / "r.md"
    cli.run(cli_args(GUIDE / "batch_norm_state.py", "-o", tmp_path / "out", "--mode", "idiomatic",
                     "--report", report))
    assert "nnx.BatchNorm(" in (tmp_path / "out" / "batch_norm_state.py").read_text()
    assert re.search(r"^- \S+ model: PASS outputs 1/1 .*; state \d+/\d+ .*\(train mode\)$",
                     report.read_text(), re.MULTILINE), report.read_text()[:1500]


def test_converted_code_on_stdout_stays_clean_of_what_imports_print(tmp_path, capsys):
    (tmp_path / "noisy.py").write_text("print('NOISE')\nWIDTH = 4\n")
    text = (GUIDE / "top_level_function.py").read_text()
    text = text.replace("jnp.ones((3, 4))", "jnp.ones((3, WIDTH))")
    (tmp_path / "loud.py").write_text(text.replace("import jax\n",
                                                   "import jax\nfrom noisy import WIDTH\n"))
    report = tmp_path / "r.md"
    assert cli.run(cli_args(tmp_path / "loud.py", "--report", report)) == 1
    out = capsys.readouterr().out
    assert "NOISE" not in out and out.rstrip().endswith("model = Forward(WIDTH)")
    assert "loud.py model: PASS" in report.read_text()
