"""GCP discovery: every Cloud SQL for PostgreSQL instance (databaseVersion POSTGRES_*) in the
listed projects, filtered by user labels. Read-only: sqladmin instances.list (nextPageToken
pages followed)."""

from __future__ import annotations

from typing import Any

from auditor.cloud_discovery.found import Discovered, ScopeError, plain_identifier, tags_match
from auditor.config import GcpCloudSqlTarget, GcpDiscoveryTarget
from auditor.model import TargetStatus

MAX_PAGES = 1000


class _ListFailed(Exception):
    def __init__(self, status: TargetStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _instances(session: Any, endpoint: str, project: str) -> list[dict[str, Any]]:
    import requests

    url = f"{endpoint.rstrip('/')}/v1/projects/{project}/instances"
    found: list[dict[str, Any]] = []
    token: str | None = None
    for _ in range(MAX_PAGES):
        try:
            response = session.get(url, params={"pageToken": token} if token else None, timeout=30)
        except requests.RequestException as exc:
            raise _ListFailed(
                TargetStatus.UNREACHABLE,
                f"cannot reach the Cloud SQL Admin API: {type(exc).__name__}",
            ) from None
        if response.status_code in (401, 403):
            raise _ListFailed(
                TargetStatus.ERROR,
                f"permission denied (HTTP {response.status_code}; needs cloudsql.instances.list)",
            )
        if response.status_code == 429:
            raise _ListFailed(TargetStatus.ERROR, "throttled (HTTP 429)")
        if response.status_code != 200:
            raise _ListFailed(TargetStatus.ERROR, f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise _ListFailed(TargetStatus.ERROR, "the answer is not JSON") from None
        found.extend(i for i in body.get("items") or [] if isinstance(i, dict))
        token = body.get("nextPageToken") or None
        if token is None:
            break
    return found


def discover_gcp(target: GcpDiscoveryTarget, token: str | None) -> Discovered:
    from google.auth.transport.requests import AuthorizedSession

    from auditor.collectors.gcp import GcpProblem, _credentials

    found = Discovered()
    try:
        credentials = _credentials(token)
    except GcpProblem as exc:
        found.errors.append(ScopeError("credentials", exc.reason, exc.status))
        return found
    session = AuthorizedSession(credentials)  # type: ignore[no-untyped-call]
    for project in target.projects:
        try:
            instances = _instances(session, target.sqladmin_endpoint, project)
        except _ListFailed as exc:
            reason = f"project {project}: listing Cloud SQL instances: {exc.reason}"
            found.errors.append(ScopeError(project, reason, exc.status))
            continue
        found.scopes += 1
        for instance in instances:
            version = str(instance.get("databaseVersion") or "?")[:40]
            name = plain_identifier(instance.get("name"))
            if not version.startswith("POSTGRES_"):
                found.skipped[version] += 1
                continue
            if name is None:
                found.skipped["unusable identifier"] += 1
                continue
            labels = (instance.get("settings") or {}).get("userLabels") or {}
            if not tags_match(target.instance_labels, {str(k): str(v) for k, v in labels.items()}):
                continue
            database = GcpCloudSqlTarget(
                name="discovered",
                kind="gcp-cloudsql",
                project=project,
                instance=name,
                access_token=target.access_token,
                sqladmin_endpoint=target.sqladmin_endpoint,
                kms_endpoint=target.kms_endpoint,
                connect=target.connect,
                labels=target.labels,
                target_timeout_seconds=target.target_timeout_seconds,
            )
            found.targets.append(
                database.model_copy(update={"name": f"{target.name}/{project}/{name}"})
            )
    found.targets.sort(key=lambda t: t.name)
    return found
