"""`--template-dir`: an organisation brands its reports with its own templates and stylesheets;
files it does not provide come from the built-in set, and a bad folder is one line, exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.spine.test_cli import run_cli

BRAND = "/* ACME-BRAND-7f3a */"
# The first rule of the built-in screen stylesheet (top-level report_templates/).
BUILTIN_SCREEN_RULE = next(
    line
    for line in (ROOT / "report_templates" / "report.css").read_text().splitlines()
    if "{" in line
)


@pytest.fixture(scope="module")
def results_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real results from a scan of recorded host evidence (no server needed)."""
    folder = tmp_path_factory.mktemp("results")
    config = folder / "host.yaml"
    evidence = FIXTURES / "host" / "luks-weak.host-evidence.json"
    config.write_text(
        "targets:\n  - name: db-host\n    kind: host\n"
        f"    data_directory: /var/lib/postgresql/15/main\n    evidence: '{evidence}'\n"
    )
    proc = run_cli("scan", "-c", str(config), "--format", "json", "-o", str(folder / "r.json"))
    assert proc.returncode == 1, proc.stderr  # the weak host fails its checks
    return folder / "r.json"


def builtin_html(results_json: Path, tmp_path: Path) -> str:
    proc = run_cli("report", str(results_json), "-o", str(tmp_path / "builtin.html"))
    assert proc.returncode == 0, proc.stderr
    return (tmp_path / "builtin.html").read_text()


def test_a_brand_stylesheet_replaces_only_that_file(results_json: Path, tmp_path: Path) -> None:
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "report.css").write_text(f"{BRAND}\nbody {{ color: #123456; }}\n")
    out = tmp_path / "branded.html"
    proc = run_cli("report", str(results_json), "--template-dir", str(brand), "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    branded = out.read_text()
    builtin = builtin_html(results_json, tmp_path)
    assert BRAND in branded and BRAND not in builtin
    # The built-in screen stylesheet is gone; the template and print stylesheet remain.
    assert BUILTIN_SCREEN_RULE in builtin and BUILTIN_SCREEN_RULE not in branded
    assert "@page" in branded and "@page" in builtin
    assert "/dev/mapper/pgdata" in branded  # the findings are still rendered


def test_a_brand_template_is_used_for_scan_via_the_environment(tmp_path: Path) -> None:
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "report.html.j2").write_text(
        "<h1>ACME audit: {{ title }}</h1>\n"
        "{% for t in results.targets %}<p>target {{ t.name }}</p>{% endfor %}\n"
        "<style>{{ screen_css }}</style>\n"
    )
    config = tmp_path / "host.yaml"
    evidence = FIXTURES / "host" / "luks-compliant.host-evidence.json"
    config.write_text(
        "targets:\n  - name: db-<host>\n    kind: host\n"
        f"    data_directory: /var/lib/postgresql/15/main\n    evidence: '{evidence}'\n"
    )
    out = tmp_path / "r.html"
    proc = run_cli(
        "scan", "-c", str(config), "--format", "html", "-o", str(out),
        env={"AUDITOR_TEMPLATE_DIR": str(brand)},
    )
    assert proc.returncode == 0, proc.stderr
    html = out.read_text()
    assert html.startswith("<h1>ACME audit: PostgreSQL encryption compliance report</h1>")
    assert "<p>target db-&lt;host&gt;</p>" in html  # still autoescaped
    assert BUILTIN_SCREEN_RULE in html  # the folder has no report.css: the built-in one


@pytest.mark.parametrize(
    ("setup", "words"),
    [
        (None, "no such folder"),
        ({"report.css": None}, "not a folder"),
        ({}, "holds none of report.html.j2, report.css, print.css"),
        ({"report.html.j2": "{% if %}"}, "report.html.j2:1: Expected an expression"),
        ({"report.css": b"\xff\xfe\x00bad"}, "report.css: cannot read: not UTF-8 text"),
    ],
    ids=["missing", "a-file", "empty", "syntax-error", "not-utf8"],
)
def test_a_bad_template_dir_is_one_line_before_anything_is_written(
    results_json: Path, tmp_path: Path, setup: dict[str, str | bytes | None] | None, words: str
) -> None:
    folder = tmp_path / "brand"
    if setup == {"report.css": None}:
        folder.write_text("a file\n")
    elif setup is not None:
        folder.mkdir()
        for name, body in setup.items():
            path = folder / name
            path.write_bytes(body) if isinstance(body, bytes) else path.write_text(str(body))
    out = tmp_path / "out"
    for args in (
        ["report", str(results_json), "--format", "html", "--format", "json"],
        ["scan", "--dsn", "postgresql://u@127.0.0.1:1/db", "--format", "html"],
    ):
        proc = run_cli(*args, "--template-dir", str(folder), "-o", str(out))
        assert proc.returncode == 2, proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("auditor: error: "), proc.stderr
        assert words in lines[0], lines[0]
        assert not out.exists()


def test_a_template_that_fails_while_rendering_is_one_line(
    results_json: Path, tmp_path: Path
) -> None:
    brand = tmp_path / "brand"
    brand.mkdir()
    (brand / "report.html.j2").write_text("<p>{{ report.no_such_field }}</p>\n")
    out = tmp_path / "r.html"
    proc = run_cli("report", str(results_json), "--template-dir", str(brand), "-o", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    (line,) = proc.stderr.strip().splitlines()
    assert line.startswith(f"auditor: error: --template-dir {brand}: the report could not be")
    assert "no_such_field" in line
    assert not out.exists()
