"""The migration report: Markdown and HTML content, well-formed HTML, and what Chromium shows."""

from __future__ import annotations

import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from hk2nnx.cli import main
from hk2nnx.convert import convert_source
from hk2nnx.convert.report import build_report, render_html, render_markdown
from hk2nnx.convert.report.model import VerifyResult
from hk2nnx.verify import Row

NET = '''import haiku as hk

LABEL = "<b>&"


class Net(hk.Module):
    def __call__(self, x):
        return hk.Linear(3)(x)


class Stack(hk.Module):
    def __call__(self, x, n):
        for _ in range(n):  # how many layers depends on the data: a TODO
            x = hk.Linear(4)(x)
        return x
'''
PLAIN = "x = '<b>&'\n"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


class _FakeVerify:
    passed = True
    mode = "eval"
    rows = (Row("output", "[0]", "[0]", "f32[2,3]", 1e-7, 2e-7, True),
            Row("grad", "net/linear/w", "linear.kernel", "f32[4,3]", 0.0, 0.0, True))

    def table(self) -> str:
        return "PASSED: 4/4 leaves <ok>"


@pytest.fixture(scope="module")
def report():
    results = [(convert_source(NET, filename="pkg/net.py"), NET),
               (convert_source(PLAIN, filename="plain.py"), PLAIN)]
    checks = [VerifyResult.from_report("Net", _FakeVerify()),
              VerifyResult("Other", "skipped", "sample inputs unknown")]
    return build_report(results, verify={"pkg/net.py": checks})


def test_counts(report):
    counts = report.counts()
    assert counts["files"] == 2 and counts["changed"] == 1 and counts["verified"] == 1
    assert counts["verify_failed"] == 0 and counts["verify_skipped"] == 1
    assert counts["todos"] >= 1 and counts["findings"] >= 1


def test_markdown_lists_files_findings_todos_and_diff(report):
    text = render_markdown(report)
    net = report.files[0]
    assert "## pkg/net.py" in text and "## plain.py" in text
    assert f"| pkg/net.py:{net.findings[0].line} | {net.findings[0].code} |" in text
    assert f"TODO at pkg/net.py:{net.todos[0].line}" in text
    assert "+from flax import nnx" in text
    assert ("- pkg/net.py Net: PASS outputs 1/1 max abs 1e-07 rel 2e-07; grads 1/1 max abs 0 "
            "rel 0 (eval mode)") in text
    assert "verify `Other`: SKIP sample inputs unknown" in text


class _Collect(HTMLParser):
    """Checks nesting while collecting ids, classes and text."""

    VOID = frozenset({"meta", "col", "br", "img", "link", "input", "hr"})

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.ids: set[str] = set()
        self.classes: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.ids.add(attrs.get("id", ""))
        self.classes.append(attrs.get("class", ""))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack.pop() == tag, f"</{tag}> does not close"

    def handle_data(self, data):
        self.text.append(data)


def test_html_is_well_formed_and_self_contained(report):
    page = render_html(report)
    parser = _Collect()
    parser.feed(page)
    assert parser.stack == []
    net = report.files[0]
    assert net.anchor in parser.ids and f"{net.anchor}-old-{net.findings[0].line}" in parser.ids
    assert parser.classes.count("replace") + parser.classes.count("insert") >= 3
    assert "finding" in parser.classes and "<script" not in page and "http" not in page
    text = "".join(parser.text)
    assert 'LABEL = "<b>&"' in text and "PASSED: 4/4 leaves <ok>" in text


def _dump_dom(page: Path, tmp_path: Path) -> str:
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={tmp_path / 'profile'}"]
    shot = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *flags, f"--screenshot={shot}", "--window-size=1200,900",
                    page.as_uri()], capture_output=True, timeout=120, check=True)
    assert shot.stat().st_size > 1000
    done = subprocess.run([CHROMIUM, *flags, "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


@pytest.mark.skipif(not Path(CHROMIUM).exists(),
                    reason="no Chromium at /usr/bin/chromium (.ci/run installs Debian's chromium)")
def test_chromium_renders_the_report(report, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(render_html(report), encoding="utf-8")
    dom = _dump_dom(page, tmp_path)
    assert "pkg/net.py" in dom and "plain.py" in dom
    assert '<div data-count="files"><dt>files</dt><dd>2</dd></div>' in dom
    assert report.files[0].findings[0].code in dom and 'class="manual"' in dom


def test_cli_writes_the_report(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "net.py").write_text(NET)
    (src / "plain.py").write_text(PLAIN)
    for name in ("r.md", "r.html"):
        assert main(["convert", str(src), "-o", str(tmp_path / "out"),
                     "--report", str(tmp_path / name)]) == 1
    assert "net.py" in (tmp_path / "r.md").read_text()
    assert "<table class=\"sbs\">" in (tmp_path / "r.html").read_text()
