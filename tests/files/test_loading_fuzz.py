"""Config, waivers and results loading under malformed input: every bad file gives exit code 2
and one line on stderr (never a traceback, never a hang), through each command that reads it
(`validate -c`, `scan -c`, `scan --waivers`, `report RESULTS.json`, `report --waivers`).
A hand-made corpus of known troublemakers, then hypothesis-generated text, bytes, YAML
structures and mutated results documents."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditor.cli import main
from auditor.config import MAX_YAML_BYTES, parse_config
from auditor.formatters.json_results import results_to_dict
from tests.report.sample import sample_results

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _billion_laughs(levels: int = 10) -> str:
    lines = ['l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * 9) + "]")
    return "\n".join(lines) + f"\ntargets: *l{levels - 1}\n"


DSN = "postgresql://a@db.example.com/app?sslmode=verify-full"

CONFIG_CORPUS: dict[str, bytes] = {
    "empty": b"",
    "only a comment": b"# nothing\n",
    "a list at the top": b"- a\n- b\n",
    "a scalar at the top": b"42\n",
    "targets not a list": b"targets: 5\n",
    "targets a mapping": b"targets: {a: 1}\n",
    "target a string": b"targets: [x]\n",
    "wrong type for name": b"targets:\n  - name: [1, 2]\n    dsn: " + DSN.encode() + b"\n",
    "date as name": b"targets:\n  - name: 2026-01-01\n    dsn: " + DSN.encode() + b"\n",
    "bad dsn": b"targets:\n  - name: a\n    dsn: 'postgresql://u:pw@h:notaport/d'\n",
    "unknown kind": b"targets:\n  - name: a\n    kind: oracle\n",
    "unknown key": b"targets:\n  - name: a\n    dsn: " + DSN.encode() + b"\n    colour: red\n",
    "duplicate key": b"targets:\n  - name: a\n    name: b\n    dsn: " + DSN.encode() + b"\n",
    "duplicate target": b"targets:\n  - {name: a, dsn: '" + DSN.encode() + b"'}\n"
    b"  - {name: a, dsn: '" + DSN.encode() + b"'}\n",
    "non-UTF-8": b"targets:\n  - name: caf\xe9\n",
    "UTF-16": "targets: []\n".encode("utf-16"),
    "NUL byte": b"targets:\x00\n",
    "control character": b"targets: \x07\n",
    "tab indentation": b"targets:\n\t- name: a\n",
    "unclosed flow": b"targets: [{name: a\n",
    "unclosed quote": b"targets:\n  - name: 'a\n",
    "undefined alias": b"targets: *nowhere\n",
    "python tag": b"targets: !!python/object/apply:os.system ['true']\n",
    "bad timestamp tag": b"targets: !!timestamp not-a-date\n",
    "bad int tag": b"targets: !!int 0xZZ\n",
    "binary tag": b"targets:\n  - name: !!binary aGVsbG8=\n",
    "complex key": b"? [a, b]\n: 1\n",
    "mapping key": b"? {a: 1}\n: 1\n",
    "merge of a scalar": b"targets:\n  - <<: 5\n    name: a\n",
    "self merge": b"x-a: &a {<<: *a}\ntargets: []\n",
    "recursive alias": b"targets: &t [*t]\n",
    "billion laughs": _billion_laughs().encode(),
    "deep nesting": b"targets: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "deep mappings": b"targets:"
    + b"".join(b"\n" + b"  " * i + b"a:" for i in range(1, 200))
    + b"\n",
    "huge file": b"targets:\n" + b"# " + b"x" * (MAX_YAML_BYTES + 10) + b"\n",
    "many documents": b"targets: []\n---\ntargets: []\n",
    "very long line": b"targets: [" + b"a," * 200_000 + b"]\n",
    "huge number": b"targets:\n  - name: a\n    dsn: "
    + DSN.encode()
    + b"\n    statement_timeout_ms: "
    + b"9" * 5000
    + b"\n",
}


def _invoke(*args: str) -> Any:
    return CliRunner().invoke(main, list(args), catch_exceptions=True)


def assert_one_line_usage_error(done: Any, what: str) -> None:
    """Exit 2 from a deliberate `sys.exit` with one `auditor: error:` line per problem (a
    file with several problems lists them all), no traceback."""
    assert done.exit_code == 2, f"{what}: exit {done.exit_code}: {done.output!r}"
    assert isinstance(done.exception, SystemExit), f"{what}: raised {done.exception!r}"
    lines = done.stderr.splitlines()
    assert lines and all(line.startswith("auditor: error: ") for line in lines), (
        f"{what}: {lines!r}"
    )
    assert "Traceback" not in done.output


@pytest.mark.parametrize("name", sorted(CONFIG_CORPUS))
def test_malformed_config_is_one_line_exit_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / "auditor.yaml"
    path.write_bytes(CONFIG_CORPUS[name])
    assert_one_line_usage_error(_invoke("validate", "-c", str(path)), f"validate {name}")
    assert_one_line_usage_error(
        _invoke("scan", "-c", str(path), "--format", "json"), f"scan {name}"
    )


def test_config_errors_name_file_line_and_key(tmp_path: Path) -> None:
    path = tmp_path / "auditor.yaml"
    path.write_bytes(CONFIG_CORPUS["duplicate key"])
    done = _invoke("validate", "-c", str(path))
    assert f"{path}:3: key 'name' appears twice" in done.stderr
    path.write_bytes(CONFIG_CORPUS["unknown key"])
    done = _invoke("validate", "-c", str(path))
    assert f"{path}:4: targets[0].colour: unknown key" in done.stderr


def test_alias_bomb_fails_fast_from_the_command_line(tmp_path: Path) -> None:
    """A real process with a timeout: a hang here fails the test instead of the suite."""
    path = tmp_path / "bomb.yaml"
    path.write_text(_billion_laughs())
    env = {k: v for k, v in os.environ.items() if k != "AUDITOR_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "auditor", "validate", "-c", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 2 and "alias bomb" in done.stderr, done.stderr


MERGE_CONFIG = f"""
x-defaults: &defaults
  kind: postgres
  dsn: '{DSN}'
  tls_probe: false
  statement_timeout_ms: 2000
x-timeouts: &timeouts
  connect_timeout_seconds: 3
  statement_timeout_ms: 9000
targets:
  - <<: *defaults
    name: orders
  - <<: [*defaults, *timeouts]
    name: billing
    tls_probe: true
  - &reporting
    name: reporting
    dsn: 'postgresql://r@reports.example.com/r?sslmode=verify-full'
  - <<: *reporting
    name: reporting-replica
"""


def test_anchors_and_merge_keys_build_targets(tmp_path: Path) -> None:
    config = parse_config(MERGE_CONFIG, "merge.yaml")
    by_name = {t.name: t for t in config.targets}
    orders, billing = by_name["orders"], by_name["billing"]
    assert orders.dsn == DSN and orders.tls_probe is False  # type: ignore[union-attr]
    assert orders.statement_timeout_ms == 2000  # type: ignore[union-attr]
    # written keys win over merged ones; the first merged mapping wins over the next
    assert billing.tls_probe is True  # type: ignore[union-attr]
    assert billing.statement_timeout_ms == 2000  # type: ignore[union-attr]
    assert billing.connect_timeout_seconds == 3  # type: ignore[union-attr]
    assert by_name["reporting-replica"].dsn == by_name["reporting"].dsn  # type: ignore[union-attr]
    path = tmp_path / "merge.yaml"
    path.write_text(MERGE_CONFIG)
    done = _invoke("validate", "-c", str(path))
    assert done.exit_code == 0 and "4 targets" in done.stdout, done.output


def test_keys_repeated_after_a_merge_are_still_duplicates(tmp_path: Path) -> None:
    text = MERGE_CONFIG.replace("    name: orders\n", "    name: orders\n    name: again\n")
    path = tmp_path / "c.yaml"
    path.write_text(text)
    done = _invoke("validate", "-c", str(path))
    assert_one_line_usage_error(done, "duplicate after merge")
    assert "key 'name' appears twice" in done.stderr


# -- hypothesis: configs ---------------------------------------------------------------------

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True),
    st.text(max_size=30),
    st.sampled_from(["postgres", "aws-rds", "host", "vault", DSN, "verify-full", "*", ""]),
)
keys = st.one_of(
    st.sampled_from(
        ["targets", "name", "kind", "dsn", "password", "env", "file", "policy", "tls_probe"]
    ),
    st.text(max_size=12),
)
documents = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(keys, inner, max_size=5)),
    max_leaves=25,
)


@FUZZ
@given(st.binary(max_size=300))
def test_fuzz_config_bytes(tmp_path: Path, data: bytes) -> None:
    _config_is_valid_or_one_line(tmp_path, data)


@FUZZ
@given(st.text(max_size=300))
def test_fuzz_config_text(tmp_path: Path, text: str) -> None:
    _config_is_valid_or_one_line(tmp_path, text.encode("utf-8", "surrogatepass"))


@FUZZ
@given(documents)
def test_fuzz_config_structures(tmp_path: Path, document: Any) -> None:
    wrapped = {"targets": [document]} if not isinstance(document, dict) else document
    _config_is_valid_or_one_line(tmp_path, yaml.safe_dump(wrapped).encode())


def _config_is_valid_or_one_line(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "fuzz.yaml"
    path.write_bytes(data)
    done = _invoke("validate", "-c", str(path))
    if done.exit_code != 0:
        assert_one_line_usage_error(done, repr(data[:80]))


# -- waivers ---------------------------------------------------------------------------------

WAIVER_CORPUS: dict[str, bytes] = {
    "empty": b"",
    "list at top": b"- check: x\n",
    "waivers not a list": b"waivers: 3\n",
    "missing fields": b"waivers:\n  - check: auth.x\n",
    "bad date": b"waivers:\n  - {check: a, reason: r, approved_by: b, expires: tomorrow}\n",
    "bad glob": b"waivers:\n  - {check: 'A B', reason: r, approved_by: b, expires: 2030-01-01}\n",
    "duplicate key": b"waivers: []\nwaivers: []\n",
    "non-UTF-8": b"waivers:\n  - check: \xff\n",
    "billion laughs": _billion_laughs().replace("targets:", "waivers:").encode(),
    "deep nesting": b"waivers: " + b"[" * 3000 + b"]" * 3000 + b"\n",
    "attestation out of order": b"attestations:\n  - {check: a, attested_by: x, "
    b"attested_on: 2030-01-01, valid_until: 2020-01-01, statement: s}\n",
}


@pytest.fixture
def results_file(tmp_path: Path) -> Path:
    path = tmp_path / "results.json"
    path.write_text(json.dumps(results_to_dict(sample_results())))
    return path


@pytest.mark.parametrize("name", sorted(WAIVER_CORPUS))
def test_malformed_waivers_are_one_line_exit_2(
    tmp_path: Path, results_file: Path, name: str
) -> None:
    path = tmp_path / "waivers.yaml"
    path.write_bytes(WAIVER_CORPUS[name])
    done = _invoke("report", str(results_file), "--format", "json", "--waivers", str(path))
    assert_one_line_usage_error(done, f"report --waivers {name}")
    config = tmp_path / "c.yaml"
    config.write_text(f"targets:\n  - name: a\n    dsn: '{DSN}'\n")
    done = _invoke("scan", "-c", str(config), "--format", "json", "--waivers", str(path))
    assert_one_line_usage_error(done, f"scan --waivers {name}")


@FUZZ
@given(documents)
def test_fuzz_waivers_structures(tmp_path: Path, document: Any) -> None:
    results = tmp_path / "results.json"
    if not results.exists():
        results.write_text(json.dumps(results_to_dict(sample_results())))
    path = tmp_path / "waivers.yaml"
    path.write_text(yaml.safe_dump({"waivers": [document]}))
    done = _invoke("report", str(results), "--format", "json", "--waivers", str(path))
    if done.exit_code != 0:
        assert_one_line_usage_error(done, repr(document)[:80])


# -- results ---------------------------------------------------------------------------------

RESULTS_CORPUS: dict[str, bytes] = {
    "empty": b"",
    "not json": b"{not json",
    "a list": b"[]",
    "a string": b'"auditor/results/v1"',
    "wrong schema": b'{"schema": "x"}',
    "schema only": b'{"schema": "auditor/results/v1"}',
    "non-UTF-8": b'{"schema": "\xff"}',
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
}


def _valid_results() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(json.dumps(results_to_dict(sample_results())))
    return data


def _mutations() -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for label, path, value in [
        ("run a list", ("run",), []),
        ("run id a number", ("run", "id"), 7),
        ("targets a mapping", ("targets",), {"a": 1}),
        ("target a list", ("targets", 0), [1]),
        ("target status unknown", ("targets", 0, "status"), "exploded"),
        ("findings a string", ("findings",), "none"),
        ("finding a number", ("findings", 0), 3),
        ("finding status unknown", ("findings", 0, "status"), "maybe"),
        ("finding message a list", ("findings", 0, "message"), ["x"]),
        ("evidence a list", ("findings", 0, "evidence"), [1, 2]),
        ("controls a mapping", ("findings", 0, "controls"), {"framework": "gdpr"}),
        ("control a string", ("findings", 0, "controls"), ["gdpr"]),
        ("tool missing version", ("tool",), {}),
    ]:
        data = _valid_results()
        node: Any = data
        for step in path[:-1]:
            node = node[step]
        node[path[-1]] = value
        out[label] = data
    return out


@pytest.mark.parametrize("name", sorted(RESULTS_CORPUS) + sorted(_mutations()))
def test_malformed_results_are_one_line_exit_2(tmp_path: Path, name: str) -> None:
    path = tmp_path / "results.json"
    raw = RESULTS_CORPUS.get(name)
    path.write_bytes(raw if raw is not None else json.dumps(_mutations()[name]).encode())
    assert_one_line_usage_error(_invoke("report", str(path), "--format", "json"), name)
    assert_one_line_usage_error(_invoke("report", str(path), "--format", "html"), name)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text()),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
RESULT_PATHS = [
    ("schema",),
    ("run",),
    ("run", "id"),
    ("run", "finished_at"),
    ("tool",),
    ("targets",),
    ("targets", 0, "name"),
    ("targets", 0, "error"),
    ("findings", 0),
    ("findings", 0, "resource"),
    ("findings", 0, "evidence"),
    ("findings", 0, "controls"),
    ("findings", 0, "severity"),
]


@FUZZ
@given(st.sampled_from(RESULT_PATHS), json_values)
def test_fuzz_results_shapes(tmp_path: Path, where: tuple[Any, ...], value: Any) -> None:
    data = _valid_results()
    node: Any = data
    for step in where[:-1]:
        node = node[step]
    node[where[-1]] = value
    path = tmp_path / "results.json"
    path.write_text(json.dumps(data))
    done = _invoke("report", str(path), "--format", "html")
    if done.exit_code != 0:
        assert_one_line_usage_error(done, f"{where} = {value!r}"[:120])
