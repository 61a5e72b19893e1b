"""The layout the design names (top-level checks/ and report_templates/) installs as one
package: from a wheel into a fresh virtualenv and from the editable install, the whole check
catalog is listed, third-party checks still join through entry points, and a report renders
with the built-in templates (and with an organisation's --template-dir).

Offline: the wheel is built without build isolation, and the fresh virtualenv borrows the
dependencies of the interpreter running the tests (a .pth line) instead of downloading them.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from auditor.catalog import all_checks
from tests.conftest import FIXTURES, ROOT

TOP_LEVEL = ("setup.cfg", "auditor", "checks", "report_templates", "fixtures", "tests",
             "tox.ini", "README.md")
TEMPLATES = ("report.html.j2", "report.css", "print.css")


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items()
             if not k.startswith(("PG", "AUDITOR_", "PYTHON", "VIRTUAL_ENV"))}
    return subprocess.run(argv, cwd=cwd, env={**clean, **(env or {})}, capture_output=True,
                          text=True, timeout=600, check=False)


def test_the_top_level_is_the_designs() -> None:
    for name in TOP_LEVEL:
        assert (ROOT / name).exists(), name
    # One copy of the catalog and the templates: real folders at the top, and the package's
    # names for them are links there (not second copies that could drift).
    for folder in ("checks", "report_templates"):
        assert (ROOT / folder).is_dir() and not (ROOT / folder).is_symlink()
        inside = ROOT / "auditor" / folder
        assert inside.is_symlink() and os.readlink(inside) == f"../{folder}"
    assert {p.name for p in (ROOT / "report_templates").iterdir()} >= set(TEMPLATES)


def catalog_ids() -> list[str]:
    return sorted(all_checks())


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Built from a copy: pip builds in place, and the checkout must not collect build/ and
    # egg-info folders (nor two test workers race in them). Symlinks stay links.
    source = tmp_path_factory.mktemp("source") / "src"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".tox",
        ".hypothesis", "auditor-*report"))
    out = tmp_path_factory.mktemp("wheel")
    proc = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                "--no-index", "-w", str(out), str(source)], cwd=out)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (found,) = out.glob("*.whl")
    return found


def test_the_wheel_holds_catalog_and_templates_inside_the_package(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for module in (ROOT / "checks").glob("*.py"):
        assert f"auditor/checks/{module.name}" in names
    for template in TEMPLATES:
        assert f"auditor/report_templates/{template}" in names
    # Nothing generic (a `checks` package, a templates folder) lands in site-packages.
    tops = {n.split("/")[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"auditor"}


@pytest.fixture(scope="module")
def wheel_venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh virtualenv with the wheel installed; dependencies come from the test
    interpreter's site-packages (appended to sys.path, so the wheel's auditor wins)."""
    venv = tmp_path_factory.mktemp("venv")
    proc = run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv)
    assert proc.returncode == 0, proc.stderr
    python = venv / "bin" / "python"
    site = run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
               cwd=venv).stdout.strip()
    (Path(site) / "borrowed-deps.pth").write_text(sysconfig.get_path("purelib") + "\n")
    proc = run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps",
                "--no-index", str(wheel)], cwd=venv)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    return venv


@pytest.fixture(scope="module")
def results_json(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("results")
    config = folder / "host.yaml"
    evidence = FIXTURES / "host" / "luks-weak.host-evidence.json"
    config.write_text("targets:\n  - name: db-host\n    kind: host\n"
                      f"    data_directory: /var/lib/postgresql/15/main\n"
                      f"    evidence: '{evidence}'\n")
    proc = run([sys.executable, "-m", "auditor", "scan", "-c", str(config), "--format", "json",
                "-o", str(folder / "results.json")], cwd=folder)
    assert proc.returncode == 1, proc.stderr  # a weak host: gating failures
    return folder / "results.json"


def assert_installation_works(bin_dir: Path, work: Path, results_json: Path,
                              editable: bool) -> None:
    auditor = str(bin_dir / "auditor")
    where = run([str(bin_dir / "python"), "-c",
                 "import auditor.checks, auditor; print(auditor.checks.__file__); "
                 "print(auditor.__file__)"], cwd=work)
    assert where.returncode == 0, where.stderr
    checks_file, package_file = (Path(p) for p in where.stdout.split())
    if editable:  # the checkout's own files: edits take effect without reinstalling
        assert package_file.resolve().parent == ROOT / "auditor"
        assert checks_file.resolve().parent == ROOT / "checks"
    else:  # the wheel's copies, inside the installed package
        assert checks_file.parent == package_file.parent / "checks"
        assert not checks_file.is_symlink() and ROOT not in checks_file.resolve().parents
    listed = run([auditor, "checks", "list", "--json"], cwd=work)
    assert listed.returncode == 0, listed.stderr
    assert sorted(c["id"] for c in json.loads(listed.stdout)) == catalog_ids()
    out = work / "report.html"
    rendered = run([auditor, "report", str(results_json), "-o", str(out)], cwd=work)
    assert rendered.returncode == 0, rendered.stderr
    html = out.read_text()
    assert "/dev/mapper/pgdata uses aes-cbc-essiv:sha256" in html  # a finding, rendered
    assert (ROOT / "report_templates" / "print.css").read_text().strip() in html
    brand = work / "brand"
    brand.mkdir(exist_ok=True)
    (brand / "print.css").write_text("/* ACME print */\n")
    branded = run([auditor, "report", str(results_json), "-o", str(work / "b.html")],
                  cwd=work, env={"AUDITOR_TEMPLATE_DIR": str(brand)})
    assert branded.returncode == 0, branded.stderr
    assert "/* ACME print */" in (work / "b.html").read_text()


@pytest.mark.slow
def test_a_wheel_in_a_fresh_venv_lists_the_catalog_and_renders_reports(
    wheel_venv: Path, results_json: Path, tmp_path: Path
) -> None:
    site = run([str(wheel_venv / "bin" / "python"), "-c",
                "import auditor; print(auditor.__file__)"], cwd=tmp_path).stdout.strip()
    assert site.startswith(str(wheel_venv)), site  # the wheel's copy, not the checkout's
    assert_installation_works(wheel_venv / "bin", tmp_path, results_json, editable=False)
    # No generic top-level `checks` module was installed.
    proc = run([str(wheel_venv / "bin" / "python"), "-c", "import checks"], cwd=tmp_path)
    assert proc.returncode != 0 and "No module named 'checks'" in proc.stderr


@pytest.mark.slow
def test_third_party_checks_join_an_installed_wheel_through_entry_points(
    wheel_venv: Path, tmp_path: Path
) -> None:
    plugin = tmp_path / "plugin"
    plugin.mkdir()
    (plugin / "acme_checks.py").write_text(
        "from auditor.checks.base import Check\n"
        "from auditor.model import Severity\n"
        "class AcmeRule(Check):\n"
        "    id = 'acme.rule'\n"
        "    title = 'Acme house rule'\n"
        "    severity = Severity.LOW\n"
        "    rationale = 'Because Acme says so.'\n"
        "    def run(self, facts):\n"
        "        return [self.passed(facts, 'ok')]\n"
    )
    dist = plugin / "acme_checks-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-checks\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[auditor.checks]\nacme = acme_checks\n")
    listed = run([str(wheel_venv / "bin" / "auditor"), "checks", "list", "--json"],
                 cwd=tmp_path, env={"PYTHONPATH": str(plugin)})
    assert listed.returncode == 0, listed.stderr
    assert sorted(c["id"] for c in json.loads(listed.stdout)) == sorted(
        [*catalog_ids(), "acme.rule"])


def test_the_editable_install_lists_the_catalog_and_renders_reports(
    results_json: Path, tmp_path: Path
) -> None:
    bin_dir = Path(sys.executable).parent
    if not (bin_dir / "auditor").exists():
        pytest.skip("the test interpreter has no `auditor` script (not the project's .venv)")
    assert_installation_works(bin_dir, tmp_path, results_json, editable=True)
