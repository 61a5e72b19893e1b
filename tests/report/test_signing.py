"""Signed evidence packages: every edit a motivated editor could make to a report folder is
caught once a public key is given, a re-rendered report still verifies against the scan's own
signature, and without a key `auditor verify` says it only catches accidents."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditor.commands.keygen import keygen_command
from auditor.commands.report import report_command, verify_command
from auditor.formatters.base import RenderOptions, formatters
from auditor.manifest import (
    MANIFEST_NAME,
    ManifestError,
    attest_results,
    verify_report_dir,
    write_report_dir,
)
from auditor.signing import load_signer, load_trusted_key
from tests.report.sample import sample_results

FORMATS = ("html", "csv", "sarif")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("keys")
    for name in ("org", "other"):
        done = CliRunner().invoke(keygen_command, [str(folder / name)])
        assert done.exit_code == 0, done.output
    return {
        "org": folder / "org",
        "org.pub": folder / "org.pub",
        "other": folder / "other",
        "other.pub": folder / "other.pub",
    }


@pytest.fixture
def signed_dir(tmp_path: Path, keys: dict[str, Path]) -> Path:
    """A report folder as `auditor scan --sign-key org -o DIR` writes it."""
    signer = load_signer(keys["org"])
    results = attest_results(sample_results(), signer)
    chosen = [formatters()[n] for n in FORMATS]
    write_report_dir(results, chosen, tmp_path / "out", RenderOptions(), signer)
    return tmp_path / "out"


def verify(folder: Path, *pubs: Path) -> Result:
    args = [str(folder)]
    for pub in pubs:
        args += ["--public-key", str(pub)]
    return CliRunner().invoke(verify_command, args)


def problems(folder: Path, pub: Path) -> tuple[str, ...]:
    return verify_report_dir(folder, [load_trusted_key(pub)]).problems


def rewrite(path: Path, edit: object) -> None:
    data = json.loads(path.read_text())
    edit(data)  # type: ignore[operator]
    path.write_text(json.dumps(data, indent=2) + "\n")


def test_keygen_writes_a_private_key_only_its_owner_can_read(keys: dict[str, Path]) -> None:
    assert stat.S_IMODE(os.stat(keys["org"]).st_mode) == 0o600
    assert keys["org"].read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert keys["org.pub"].read_text().startswith("-----BEGIN PUBLIC KEY-----")
    again = CliRunner().invoke(keygen_command, [str(keys["org"])])
    assert again.exit_code == 2 and "already exists (refusing to overwrite a key)" in again.output
    # the refused run left the key as it was
    assert load_signer(keys["org"]).keyid == load_trusted_key(keys["org.pub"]).keyid


def test_a_signed_folder_verifies_and_names_the_key(
    signed_dir: Path, keys: dict[str, Path]
) -> None:
    done = verify(signed_dir, keys["org.pub"])
    assert done.exit_code == 0, done.output
    keyid = load_trusted_key(keys["org.pub"]).keyid
    assert f"scan results signed by {keyid[:23]} ({keys['org.pub']})" in done.output
    run = sample_results()
    assert f"run {run.run_id}, {run.started_at} to {run.finished_at}" in done.output
    assert f"file list signed by {keyid[:23]}" in done.output
    assert "NOTE" not in done.output


def test_the_private_key_never_lands_in_the_report(signed_dir: Path, keys: dict[str, Path]) -> None:
    pem_body = "".join(keys["org"].read_text().splitlines()[1:-1])
    raw = load_signer(keys["org"]).private.private_bytes_raw()
    for path in signed_dir.iterdir():
        data = path.read_bytes()
        assert pem_body.encode() not in data and raw not in data, path
    assert "private" not in repr(load_signer(keys["org"])).lower().replace("signer(", "")


def test_fail_turned_into_pass_and_re_rendered_is_caught(
    signed_dir: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    """The attack from the issue: edit results.json, re-render with `auditor report` so every
    digest is consistent again. Digests alone are fooled; the scan signature is not."""

    def fail_to_pass(data: dict) -> None:  # type: ignore[type-arg]
        for finding in data["findings"]:
            if finding["status"] == "fail":
                finding["status"] = "pass"

    rewrite(signed_dir / "results.json", fail_to_pass)
    forged = tmp_path / "forged"
    args = [str(signed_dir / "results.json"), "-o", str(forged)]
    for fmt in FORMATS:
        args += ["--format", fmt]
    assert CliRunner().invoke(report_command, args).exit_code == 0
    done = verify(forged, keys["org.pub"])
    assert done.exit_code == 1
    assert "results differ from what the scan signed" in done.output
    # An editor who also strips the signature fools the digests, not the key.
    rewrite(signed_dir / "results.json", lambda d: d.pop("attestation"))
    stripped = tmp_path / "stripped"
    args[2] = str(stripped)
    assert CliRunner().invoke(report_command, args).exit_code == 0
    assert verify(stripped).exit_code == 0  # digests alone: consistent, so fooled
    done = verify(stripped, keys["org.pub"])
    assert done.exit_code == 1 and "carries no scan signature" in done.output
    # ...and signing the forged folder with another key does not help.
    rewritten = tmp_path / "forged2"
    args[2] = str(rewritten)
    env = {"AUDITOR_SIGN_KEY": str(keys["other"])}
    assert CliRunner().invoke(report_command, args, env=env).exit_code == 0
    done = verify(rewritten, keys["org.pub"])
    assert done.exit_code == 1 and "does not verify with the given public key" in done.output


def test_a_re_rendered_report_verifies_against_the_scan_signature(
    signed_dir: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    later = tmp_path / "later"
    args = [
        str(signed_dir / "results.json"),
        "-o",
        str(later),
        "--format",
        "html",
        "--format",
        "pdf",
    ]
    assert CliRunner().invoke(report_command, args).exit_code == 0
    original = json.loads((signed_dir / "results.json").read_text())["attestation"]
    assert json.loads((later / "results.json").read_text())["attestation"] == original
    done = verify(later, keys["org.pub"])
    assert done.exit_code == 0, done.output
    assert "scan results signed by SHA256:" in done.output
    # Rendered later without a key: the HTML/PDF are digest-protected only, and verify says so.
    assert "NOTE the manifest is not signed" in done.output
    # Re-rendered with the key, the file list is signed too.
    signed_later = tmp_path / "signed-later"
    args[2] = str(signed_later)
    assert (
        CliRunner().invoke(report_command, [*args, "--sign-key", str(keys["org"])]).exit_code == 0
    )
    done = verify(signed_later, keys["org.pub"])
    assert (
        done.exit_code == 0 and "file list signed by" in done.output and "NOTE" not in done.output
    )


def test_the_wrong_key_fails(signed_dir: Path, keys: dict[str, Path]) -> None:
    done = verify(signed_dir, keys["other.pub"])
    assert done.exit_code == 1
    assert "scan signature: signature does not verify with the given public key(s)" in done.output
    # Rotation: trusting old and new keys together verifies, naming the one that signed.
    done = verify(signed_dir, keys["other.pub"], keys["org.pub"])
    assert done.exit_code == 0 and str(keys["org.pub"]) in done.output


def test_an_unsigned_scan_fails_when_a_key_is_required(
    tmp_path: Path, keys: dict[str, Path]
) -> None:
    write_report_dir(sample_results(), [formatters()["csv"]], tmp_path / "u", RenderOptions())
    done = verify(tmp_path / "u", keys["org.pub"])
    assert done.exit_code == 1 and "carries no scan signature" in done.output


def test_without_a_key_verify_states_its_limit(signed_dir: Path) -> None:
    done = verify(signed_dir)
    assert done.exit_code == 0
    assert "detects accidental changes, not forgery" in done.output


def test_an_added_file_is_caught(signed_dir: Path, keys: dict[str, Path]) -> None:
    (signed_dir / "extra.html").write_text("<p>all green</p>")
    assert problems(signed_dir, keys["org.pub"]) == (
        f"{signed_dir / 'extra.html'}: in the folder but not listed in the manifest",
    )

    # Listing it in the manifest (with its digest) does not help: the file list was signed.
    def add(data: dict) -> None:  # type: ignore[type-arg]
        import hashlib

        digest = hashlib.sha256(b"<p>all green</p>").hexdigest()
        data["files"].append({"name": "extra.html", "sha256": digest, "bytes": 16})

    rewrite(signed_dir / MANIFEST_NAME, add)
    assert problems(signed_dir, keys["org.pub"]) == (
        f"{signed_dir / MANIFEST_NAME}: extra.html is listed but was not signed",
    )


def test_an_entry_removed_from_the_manifest_is_caught(
    signed_dir: Path, keys: dict[str, Path]
) -> None:
    rewrite(signed_dir / MANIFEST_NAME, lambda d: d["files"].pop(0))
    found = problems(signed_dir, keys["org.pub"])
    assert f"{signed_dir / 'report.html'}: in the folder but not listed in the manifest" in found
    assert f"{signed_dir / MANIFEST_NAME}: report.html was signed but is no longer listed" in found
    # and deleting the file as well still leaves the signed list short of it
    (signed_dir / "report.html").unlink()
    assert problems(signed_dir, keys["org.pub"]) == (
        f"{signed_dir / MANIFEST_NAME}: report.html was signed but is no longer listed",
    )


def test_an_emptied_file_list_is_caught(signed_dir: Path, keys: dict[str, Path]) -> None:
    rewrite(signed_dir / MANIFEST_NAME, lambda d: d["files"].clear())
    found = problems(signed_dir, keys["org.pub"])
    assert sum("not listed in the manifest" in p for p in found) == 3
    assert sum("was signed but is no longer listed" in p for p in found) == 3
    assert verify(signed_dir).exit_code == 1  # digests alone catch this one too


def test_a_removed_signature_is_caught(signed_dir: Path, keys: dict[str, Path]) -> None:
    rewrite(signed_dir / "results.json", lambda d: d.pop("attestation"))
    found = problems(signed_dir, keys["org.pub"])
    assert any("carries no scan signature" in p for p in found)


def test_a_changed_report_file_is_caught_with_the_manifest_rewritten(
    signed_dir: Path, keys: dict[str, Path]
) -> None:
    import hashlib

    html = signed_dir / "report.html"
    html.write_text(html.read_text().replace("app-db", "app-dB", 1))
    digest = hashlib.sha256(html.read_bytes()).hexdigest()

    def fix(data: dict) -> None:  # type: ignore[type-arg]
        for f in data["files"]:
            if f["name"] == "report.html":
                f["sha256"] = digest
                f["bytes"] = html.stat().st_size

    rewrite(signed_dir / MANIFEST_NAME, fix)
    assert problems(signed_dir, keys["org.pub"]) == (
        f"{signed_dir / MANIFEST_NAME}: report.html digest differs from the signed one",
    )


@pytest.mark.parametrize("name", ["../results.json", "/etc/passwd", "..", "sub/results.json", ""])
def test_results_file_outside_the_folder_is_refused(signed_dir: Path, name: str) -> None:
    rewrite(signed_dir / MANIFEST_NAME, lambda d: d["results"].__setitem__("file", name))
    with pytest.raises(ManifestError, match="is not a file name inside the folder"):
        verify_report_dir(signed_dir)
    done = verify(signed_dir)
    assert done.exit_code == 1 and done.output.startswith("FAILED: ")


def test_a_symlinked_report_file_is_caught(signed_dir: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside.csv"
    outside.write_bytes((signed_dir / "results.csv").read_bytes())
    (signed_dir / "results.csv").unlink()
    (signed_dir / "results.csv").symlink_to(outside)
    assert verify_report_dir(signed_dir).problems == (
        f"{signed_dir / 'results.csv'}: is a symbolic link (may point outside the folder)",
    )


MALFORMED = [
    [],
    "manifest",
    {"schema": "auditor/manifest/v0"},
    {"files": None},
    {"files": "report.html"},
    {"files": [None]},
    {"files": [{"name": 3, "sha256": "0" * 64, "bytes": 1}]},
    {"files": [{"name": "a", "sha256": "zz", "bytes": 1}]},
    {"files": [{"name": "a", "sha256": "0" * 64, "bytes": "1"}]},
    {"files": [{"name": "a", "sha256": "0" * 64, "bytes": 1}] * 2},
    {"results": None},
    {"results": []},
    {"results": {"file": "results.json"}},
    {"results": {"file": ["x"], "sha256": "0" * 64}},
    {"evidence": {"0": 1}},
    {"evidence": [1]},
    {"run_id": 7},
    {"algorithm": "md5"},
    {"signature": "forged"},
]


@pytest.mark.parametrize("change", MALFORMED, ids=[str(i) for i in range(len(MALFORMED))])
def test_a_malformed_manifest_is_one_line_never_a_traceback(
    signed_dir: Path, change: object
) -> None:
    path = signed_dir / MANIFEST_NAME
    if isinstance(change, dict):
        rewrite(path, lambda d: d.update(change))
    else:
        path.write_text(json.dumps(change))
    done = verify(signed_dir)
    assert done.exit_code == 1, done.output
    assert done.exception is None or isinstance(done.exception, SystemExit)
    lines = done.output.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"FAILED: {path}: "), done.output


def test_deeply_nested_json_is_one_line(signed_dir: Path) -> None:
    (signed_dir / MANIFEST_NAME).write_text("[" * 100_000 + "]" * 100_000)
    done = verify(signed_dir)
    assert done.exit_code == 1 and "nested too deeply" in done.output


def test_verify_usage_errors(tmp_path: Path, keys: dict[str, Path]) -> None:
    assert verify(tmp_path / "none").exit_code == 2
    not_a_key = tmp_path / "k.pub"
    not_a_key.write_text("hello")
    done = verify(tmp_path, not_a_key)
    assert done.exit_code == 2 and "not a PEM public key" in done.output
    # a private key given as the public one is refused without echoing it
    done = verify(tmp_path, keys["org"])
    assert done.exit_code == 2 and "PRIVATE" not in done.output


def test_waivers_applied_after_signing_are_reported_as_changes(
    signed_dir: Path, keys: dict[str, Path], tmp_path: Path
) -> None:
    from tests.report.sample import WAIVERS_YAML

    waivers = tmp_path / "waivers.yaml"
    waivers.write_text(WAIVERS_YAML)
    out = tmp_path / "waived"
    args = [str(signed_dir / "results.json"), "--format", "csv", "-o", str(out)]
    done = CliRunner().invoke(report_command, [*args, "--waivers", str(waivers)])
    assert done.exit_code == 0 and "the waivers change signed results" in done.output
    assert "results differ from what the scan signed" in verify(out, keys["org.pub"]).output


def test_scan_refuses_a_bad_signing_key_before_scanning(tmp_path: Path) -> None:
    from auditor.cli import main

    bad = tmp_path / "key.pem"
    bad.write_text(
        "-----BEGIN PRIVATE KEY-----\nQ2FuYXJ5LWtleS1ieXRlcw==\n-----END PRIVATE KEY-----\n"
    )
    # 192.0.2.1 (TEST-NET-1) would time out if the scan started: the key is checked first.
    args = ["scan", "--dsn", "postgresql://a@192.0.2.1/db", "--sign-key", str(bad)]
    done = CliRunner().invoke(main, args)
    assert done.exit_code == 2
    assert done.output.strip() == f"auditor: error: {bad}: not an unencrypted PEM private key"
    assert "Q2FuYXJ5" not in done.output
    done = CliRunner().invoke(main, args[:3], env={"AUDITOR_SIGN_KEY": str(tmp_path / "none")})
    assert done.exit_code == 2 and "cannot read signing key" in done.output


def test_a_key_readable_by_others_is_warned_about(keys: dict[str, Path], tmp_path: Path) -> None:
    loose = tmp_path / "loose"
    loose.write_bytes(keys["org"].read_bytes())
    loose.chmod(0o644)
    assert (
        load_signer(loose).warning
        == f"{loose}: signing key is readable by other users (chmod 600 it)"
    )
    assert load_signer(keys["org"]).warning is None
    results = tmp_path / "r.json"
    results.write_bytes(formatters()["json"].render(sample_results(), RenderOptions()))
    args = [str(results), "--format", "csv", "-o", str(tmp_path / "o"), "--sign-key", str(loose)]
    done = CliRunner().invoke(report_command, args)
    assert done.exit_code == 0 and "signing key is readable by other users" in done.output
