"""One config for a whole estate, each job its slice: `--target`, `--label` and exclusions
(also AUDITOR_TARGET / AUDITOR_LABEL), targets' labels in results.json and the inventory."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest

from auditor.config import ConfigError, parse_config
from auditor.lab.cluster import Cluster
from auditor.target_selection import TargetFilter, TargetSelectionError, select
from tests.conftest import AUDITOR_PASSWORD
from tests.spine.test_cli import run_cli

REPO = Path(__file__).resolve().parents[2]

ESTATE = """\
targets:
  - name: payments-prod
    dsn: postgresql://u@db1/app
    labels: {env: prod, bu: payments, owner: team-pay, data_class: pci, zone: dmz}
  - name: payments-staging
    dsn: postgresql://u@db2/app
    labels: {env: staging, bu: payments}
  - name: hr-prod
    dsn: postgresql://u@db3/app
    labels: {env: prod, bu: hr, zone: 3}
  - name: host-a
    kind: host
    data_directory: /var/lib/postgresql/15/main
    labels: {env: prod, bu: payments}
"""


def names(**options: tuple[str, ...]) -> list[str]:
    config = parse_config(ESTATE, "estate.yaml")
    return [t.name for t in select(config.targets, TargetFilter(**options))]


def test_names_globs_labels_and_exclusions() -> None:
    everything = ["payments-prod", "payments-staging", "hr-prod", "host-a"]
    assert names() == everything
    assert names(names=("hr-prod",)) == ["hr-prod"]
    assert names(names=("payments-*",)) == ["payments-prod", "payments-staging"]
    assert names(names=("hr-prod", "host-*")) == ["hr-prod", "host-a"]  # config order
    assert names(labels=("env=prod",)) == ["payments-prod", "hr-prod", "host-a"]
    assert names(labels=("env=prod", "bu=payments")) == ["payments-prod", "host-a"]  # AND
    assert names(labels=("env=stag*",)) == ["payments-staging"]
    assert names(labels=("zone=3",)) == ["hr-prod"]  # a YAML number is a label too
    assert names(labels=("bu=payments",), exclude_names=("host-*",)) == [
        "payments-prod",
        "payments-staging",
    ]
    assert names(exclude_labels=("env=prod",)) == ["payments-staging"]
    assert names(names=("payments-*",), exclude_labels=("data_class=pci",)) == ["payments-staging"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"names": ("paymnts-prod",)},
            "--target 'paymnts-prod' matches no target (did you mean 'payments-prod'?) "
            "(targets: host-a, hr-prod, payments-prod, payments-staging)",
        ),
        (
            {"exclude_names": ("nothing-*",)},
            "--exclude-target 'nothing-*' matches no target",
        ),
        (
            {"labels": ("env=prd",)},
            "--label env=prd: no target matches; no target has env=prd (did you mean "
            "'env=prod'?); targets: host-a, hr-prod, payments-prod, payments-staging; labels: "
            "bu=hr, bu=payments, data_class=pci, env=prod, env=staging, owner=team-pay, "
            "zone=3, zone=dmz",
        ),
        (
            {"labels": ("env=staging", "bu=hr")},
            "--label env=staging --label bu=hr: no target matches; targets:",
        ),
        ({"labels": ("envprod",)}, "--label 'envprod': must be key=value (e.g. env=prod)"),
        ({"exclude_labels": ("=x",)}, "--exclude-label '=x': must be key=value"),
        (
            {"names": ("payments-*",), "exclude_names": ("payments-*",)},
            "--target 'payments-*' --exclude-target 'payments-*': no target matches",
        ),
    ],
)
def test_a_selection_that_cannot_be_right_names_what_exists(
    options: dict[str, tuple[str, ...]], message: str
) -> None:
    with pytest.raises(TargetSelectionError) as caught:
        names(**options)
    assert str(caught.value).startswith(message), str(caught.value)
    assert "\n" not in str(caught.value)


def test_long_listings_are_cut() -> None:
    text = "targets:\n" + "".join(
        f"  - name: db{i:03}\n    dsn: postgresql://u@h{i}/app\n" for i in range(300)
    )
    config = parse_config(text, "big.yaml")
    with pytest.raises(TargetSelectionError) as caught:
        select(config.targets, TargetFilter(labels=("env=prod",)))
    assert "db019 and 280 more" in str(caught.value) and "db020" not in str(caught.value)


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        ("{env: [prod]}", "targets[0].labels.env: must be a valid string"),
        ("{'bad key': x}", "targets[0].labels: label key 'bad key' must be letters"),
        ("[env=prod]", "targets[0].labels: must be a mapping (key: value lines)"),
        ("{env: 'a=b'}", "targets[0].labels.env: does not have the expected form"),
    ],
)
def test_bad_labels_are_config_errors(labels: str, expected: str) -> None:
    text = f"targets:\n  - name: a\n    dsn: postgresql://u@h/app\n    labels: {labels}\n"
    with pytest.raises(ConfigError) as caught:
        parse_config(text, "a.yaml")
    assert caught.value.problems[0].startswith(f"a.yaml:4: {expected}"), caught.value.problems


def test_scan_runs_only_the_slice_and_reports_labels(
    compliant_cluster: Cluster, tmp_path: Path
) -> None:
    """A real scan of one slice of an estate: the other targets' secrets are not needed
    (their variables are unset), their names appear nowhere, and the selected target's
    labels are in results.json (valid against the schema) and its inventory."""
    dsn = compliant_cluster.dsn("auditor")
    config = tmp_path / "estate.yaml"
    config.write_text(
        "targets:\n"
        f"  - name: pay-prod\n    dsn: '{dsn}'\n    password: {{env: T_PW}}\n"
        "    labels: {env: prod, bu: payments, owner: team-pay}\n"
        f"  - name: pay-staging\n    dsn: '{dsn}'\n    password: {{env: UNSET_STAGING_PW}}\n"
        "    labels: {env: staging, bu: payments}\n"
        f"  - name: hr-prod\n    dsn: '{dsn}'\n    password: {{env: UNSET_HR_PW}}\n"
        "    labels: {env: prod, bu: hr}\n"
    )
    out = tmp_path / "out.json"
    env = {"T_PW": AUDITOR_PASSWORD}
    common = ["scan", "-c", str(config), "--check", "transport.ssl_enabled"]
    folder = tmp_path / "reports"
    proc = run_cli(*common, "--label", "bu=payments", "--exclude-label", "env=staging",
                   "--format", "json", "--format", "html", "-o", str(folder), env=env)
    assert proc.returncode == 0, proc.stderr
    results = json.loads((folder / "results.json").read_text())
    html = (folder / "report.html").read_text()
    assert "bu=payments, env=prod, owner=team-pay" in html  # the scope section's asset row
    assert "pay-staging" not in html and "hr-prod" not in html
    schema = json.loads((REPO / "auditor" / "schemas" / "results-v1.schema.json").read_text())
    jsonschema.validate(results, schema)
    [target] = results["targets"]
    labels = {"env": "prod", "bu": "payments", "owner": "team-pay"}
    assert (target["name"], target["status"], target["labels"]) == ("pay-prod", "scanned", labels)
    assert target["inventory"]["labels"] == labels
    assert {f["target"] for f in results["findings"]} == {"pay-prod"}
    # The same slice from the environment (a scheduled job's settings), values split on spaces.
    proc = run_cli(
        *common,
        "--format",
        "json",
        "-o",
        str(out),
        env={**env, "AUDITOR_LABEL": "bu=payments env=prod"},
    )
    assert proc.returncode == 0, proc.stderr
    assert [t["name"] for t in json.loads(out.read_text())["targets"]] == ["pay-prod"]
    out.unlink()
    proc = run_cli(
        *common,
        "--format",
        "json",
        "-o",
        str(out),
        env={**env, "AUDITOR_TARGET": "pay-*", "UNSET_STAGING_PW": "x"},
    )
    assert proc.returncode == 3, proc.stderr  # pay-staging's password is wrong: error, exit 3
    assert [t["name"] for t in json.loads(out.read_text())["targets"]] == [
        "pay-prod",
        "pay-staging",
    ]
    # Without a selection every target counts, so the unset variables stop the scan early.
    proc = run_cli(*common, env=env)
    assert proc.returncode == 2 and "UNSET_HR_PW" in proc.stderr
