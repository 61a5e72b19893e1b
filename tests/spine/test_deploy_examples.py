"""The container image definition and the scheduling examples under deploy/ are tested as
far as this machine allows (no image build, no cluster API): every YAML parses, Kubernetes
manifests deserialise into the official client's models without losing a key (a typo would be
dropped silently), systemd units pass `systemd-analyze verify`, the embedded config is a valid
Auditor config, the report file names the CI examples upload are the ones the formatters
write, and the Dockerfile runs as a non-root user and holds no secret."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from auditor.config import parse_config
from auditor.formatters.base import formatters
from tests.spine.test_cli import run_cli

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes" / "auditor-cronjob.yaml"
MODELS = {
    ("v1", "ServiceAccount"): "V1ServiceAccount",
    ("v1", "ConfigMap"): "V1ConfigMap",
    ("v1", "Secret"): "V1Secret",
    ("batch/v1", "CronJob"): "V1CronJob",
    ("batch/v1", "Job"): "V1Job",
}


def _yaml_files() -> list[Path]:
    return sorted(p for p in DEPLOY.rglob("*") if p.suffix in (".yml", ".yaml"))


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: p.name)
def test_every_example_yaml_parses(path: Path) -> None:
    documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
    assert documents and all(isinstance(d, dict) for d in documents)


class _Response:
    """What ApiClient.deserialize reads: a body as the API server would send it."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.data = json.dumps(body)


def _deserialise(document: dict[str, Any]) -> Any:
    from kubernetes.client import ApiClient

    api = ApiClient()
    model = MODELS[(document["apiVersion"], document["kind"])]
    obj = api.deserialize(_Response(document), model)
    # Round trip: any key the model does not know (a typo, a wrong level) is dropped.
    assert api.sanitize_for_serialization(obj) == document, f"{model}: keys were lost"
    return obj


def _manifests() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(K8S.read_text()) if d is not None]


def test_kubernetes_manifests_deserialise_into_the_client_models() -> None:
    objects = {doc["kind"]: _deserialise(doc) for doc in _manifests()}
    job = objects["CronJob"].spec.job_template.spec
    assert job.completion_mode == "Indexed"
    assert job.completions == job.parallelism == 8
    pod = job.template.spec
    assert pod.security_context.run_as_non_root is True
    container = pod.containers[0]
    assert container.args[0] == "scan" and "--shard" in container.args
    shard = container.args[container.args.index("--shard") + 1]
    # Kubernetes expands $(VAR) in args from the container's environment: the index comes
    # from the Indexed Job, the count must match completions.
    assert shard == "$(JOB_COMPLETION_INDEX)/$(JOB_COMPLETION_COUNT)"
    env = {e.name: e for e in container.env}
    assert env["JOB_COMPLETION_COUNT"].value == str(job.completions)
    # Secrets come from a Secret, never inline in the manifest.
    assert env["AUDITOR_HISTORY"].value_from.secret_key_ref.name == "auditor-secrets"
    assert env["AUDITOR_DB_PASSWORD"].value_from.secret_key_ref is not None


def test_a_misspelt_or_mistyped_manifest_key_is_caught() -> None:
    cronjob = next(d for d in _manifests() if d["kind"] == "CronJob")
    typo = copy.deepcopy(cronjob)
    typo["spec"]["jobTemplate"]["spec"]["completionMod"] = "Indexed"
    with pytest.raises(AssertionError, match="keys were lost"):
        _deserialise(typo)
    wrong_type = copy.deepcopy(cronjob)
    wrong_type["spec"]["jobTemplate"]["spec"]["completions"] = "eight"
    with pytest.raises(ValueError):
        _deserialise(wrong_type)


def test_the_config_shipped_in_the_configmap_is_a_valid_auditor_config() -> None:
    configmap = next(d for d in _manifests() if d["kind"] == "ConfigMap")
    config = parse_config(configmap["data"]["auditor.yaml"], "configmap")
    assert [t.name for t in config.targets] == ["orders-db", "billing-db"]
    assert all(t.password is not None for t in config.targets)  # references, never values


def test_ci_examples_upload_the_files_the_formatters_write() -> None:
    names = {f.name: f.extension for f in formatters().values()}
    github = yaml.safe_load((DEPLOY / "github-actions" / "auditor.yml").read_text())
    steps = github["jobs"]["scan"]["steps"]
    upload = next(s for s in steps if s.get("uses", "").startswith("github/"))
    assert upload["uses"].startswith("github/codeql-action/upload-sarif@")
    assert upload["with"]["sarif_file"] == f"auditor-report/{names['sarif']}"
    assert github["jobs"]["scan"]["permissions"]["security-events"] == "write"
    gitlab = yaml.safe_load((DEPLOY / "gitlab-ci" / ".gitlab-ci.yml").read_text())
    job = gitlab["auditor-scan"]
    assert job["artifacts"]["reports"]["junit"] == f"auditor-report/{names['junit']}"
    assert "--format junit" in " ".join(job["script"])


def _scan_args(command: str) -> list[str]:
    """The options of an `auditor scan ...` command line in an example."""
    words = command.split()
    return words[words.index("scan") + 1 :]


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(
            (DEPLOY / "cron" / "auditor.cron").read_text().strip().splitlines()[-1], id="cron"
        ),
        pytest.param(
            next(
                line.split("=", 1)[1]
                for line in (DEPLOY / "systemd" / "auditor-scan.service").read_text().splitlines()
                if line.startswith("ExecStart=")
            ),
            id="systemd",
        ),
    ],
)
def test_scheduled_command_lines_are_accepted_by_the_cli(command: str, tmp_path: Path) -> None:
    """The options parse (a removed or renamed option would be a usage error): run with a
    config whose only target cannot be reached, into a scratch folder."""
    args = _scan_args(command)
    args = [a if not a.startswith("/var/lib/auditor") else str(tmp_path / "out") for a in args]
    args = [a for a in args if a != "/etc/auditor/auditor.yaml"]
    if "-c" in args:
        args.remove("-c")
    config = tmp_path / "auditor.yaml"
    config.write_text("targets:\n  - name: a\n    dsn: postgresql://u@127.0.0.1:1/db\n")
    proc = run_cli("scan", "-c", str(config), *args, env={"AUDITOR_HISTORY": str(tmp_path / "h")})
    assert proc.returncode == 3, proc.stderr  # scanned, incomplete: not a usage error (2)
    assert (tmp_path / "out" / "results.json").exists()


def _verify_units(folder: Path) -> subprocess.CompletedProcess[str]:
    units = sorted(str(p) for p in folder.iterdir())
    return subprocess.run(
        ["systemd-analyze", "verify", *units],
        capture_output=True,
        text=True,
        env={"SYSTEMD_UNIT_PATH": f"{folder}:", "PATH": "/usr/bin:/bin"},
        check=False,
        timeout=60,
    )


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze here")
def test_systemd_units_verify(tmp_path: Path) -> None:
    for unit in (DEPLOY / "systemd").iterdir():
        text = unit.read_text()
        # The binary's install path differs per machine: verify against one that exists.
        shutil.copy(unit, tmp_path / unit.name)
        (tmp_path / unit.name).write_text(text.replace("/usr/local/bin/auditor", "/bin/true"))
    proc = _verify_units(tmp_path)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr
    # The check has teeth: a bad value is reported (systemd only warns, so stderr counts).
    service = tmp_path / "auditor-scan.service"
    service.write_text(service.read_text().replace("Type=oneshot", "Type=sometimes"))
    assert "Failed to parse service type" in _verify_units(tmp_path).stderr


def test_systemd_timer_starts_the_service() -> None:
    timer = (DEPLOY / "systemd" / "auditor-scan.timer").read_text()
    assert re.search(r"^Unit=auditor-scan\.service$", timer, re.M)
    assert re.search(r"^OnCalendar=", timer, re.M) and "[Install]" in timer


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", (ROOT / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile_is_slim_non_root_and_holds_no_secret() -> None:
    steps = _dockerfile()
    assert steps[0][0] == "FROM" and re.fullmatch(r"python:3\.11-slim\S*", steps[0][1])
    users = [args for word, args in steps if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    # The last USER comes after every RUN: nothing installed later runs as root.
    last_user = max(i for i, (word, _) in enumerate(steps) if word == "USER")
    assert all(i < last_user for i, (word, _) in enumerate(steps) if word == "RUN")
    installs = " ".join(args for word, args in steps if word == "RUN")
    for package in ("libpango-1.0-0", "libharfbuzz-subset0", "fonts-liberation", "fonts-dejavu"):
        assert package in installs  # WeasyPrint's libraries and the report's fonts
    assert "postgresql-client" not in installs
    for word, args in steps:
        assert word not in ("ADD",) or "http" not in args  # no remote downloads baked in
        if word in ("ENV", "ARG"):
            assert not re.search(r"(?i)(password|secret|token|key)\s*=", args), args
    assert [args for word, args in steps if word == "ENTRYPOINT"] == ['["auditor"]']


def test_dockerignore_keeps_local_state_out_of_the_image() -> None:
    ignored = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", ".venv", "tests"):
        assert entry in ignored
