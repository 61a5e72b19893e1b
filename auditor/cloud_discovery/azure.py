"""Azure discovery: every Azure Database for PostgreSQL flexible server in the listed
subscriptions (default: every subscription the credential sees), filtered by resource group
and tags. Read-only: GET /subscriptions and flexibleServers list (nextLink pages followed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from auditor.cloud_discovery.found import (
    Discovered,
    ScopeError,
    one_line,
    plain_identifier,
    tags_match,
)
from auditor.config import AzureDiscoveryTarget, AzurePostgresTarget
from auditor.model import TargetStatus

SUBSCRIPTIONS_API = "2022-12-01"
MAX_PAGES = 1000  # a nextLink that never ends is the API's bug, not a reason to hang


def explain(exc: Exception, action: str) -> tuple[TargetStatus, str]:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ServiceRequestError,
    )

    if isinstance(exc, ServiceRequestError):
        return TargetStatus.UNREACHABLE, f"{action}: cannot reach Azure Resource Manager"
    if isinstance(exc, ClientAuthenticationError) and exc.status_code is None:
        return TargetStatus.ERROR, f"{action}: Azure authentication failed"
    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None) or "error"
        return TargetStatus.ERROR, one_line(f"{action}: {code} (HTTP {exc.status_code})")
    return TargetStatus.ERROR, f"{action}: {type(exc).__name__}"


def _client(target: AzureDiscoveryTarget, token: str | None, config_dir: Path, sub: str) -> Any:
    from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient

    from auditor.collectors.azure import StaticToken

    if token is not None:
        credential: Any = StaticToken(token)
    else:
        from azure.identity import DefaultAzureCredential

        credential = DefaultAzureCredential()
    options: dict[str, Any] = {"retry_total": 2, "connection_timeout": 10, "read_timeout": 30}
    if target.ca_bundle:
        options["connection_verify"] = str(config_dir / target.ca_bundle)
    if target.management_endpoint:
        options["base_url"] = target.management_endpoint
    return PostgreSQLManagementClient(credential, sub, **options)


def _subscriptions(client: Any, base_url: str) -> list[str]:
    """Every subscription the credential sees (GET /subscriptions, enabled ones)."""
    from azure.core.exceptions import HttpResponseError
    from azure.core.rest import HttpRequest

    url: str | None = f"{base_url.rstrip('/')}/subscriptions?api-version={SUBSCRIPTIONS_API}"
    found: list[str] = []
    for _ in range(MAX_PAGES):
        if url is None:
            break
        response = client.send_request(HttpRequest("GET", url))
        if response.status_code != 200:
            raise HttpResponseError(response=response)
        body = response.json()
        for sub in body.get("value", []):
            if sub.get("state", "Enabled") == "Enabled" and sub.get("subscriptionId"):
                found.append(str(sub["subscriptionId"]))
        url = body.get("nextLink") or None
    return sorted(set(found))


def _resource_group(resource_id: str) -> str | None:
    parts = resource_id.split("/")
    lowered = [p.lower() for p in parts]
    if "resourcegroups" in lowered:
        at = lowered.index("resourcegroups")
        if at + 1 < len(parts):
            return parts[at + 1]
    return None


def discover_azure(target: AzureDiscoveryTarget, token: str | None, config_dir: Path) -> Discovered:
    found = Discovered()
    base_url = target.management_endpoint or "https://management.azure.com"
    subscriptions = list(target.subscriptions)
    if not subscriptions:
        try:
            subscriptions = _subscriptions(_client(target, token, config_dir, "-"), base_url)
        except Exception as exc:
            status, reason = explain(exc, "listing subscriptions")
            found.errors.append(ScopeError("subscriptions", reason, status))
            return found
    wanted_groups = {g.lower() for g in target.resource_groups}
    for sub in subscriptions:
        try:
            servers = list(_client(target, token, config_dir, sub).servers.list_by_subscription())
        except Exception as exc:
            status, reason = explain(exc, f"subscription {sub}: listing flexible servers")
            found.errors.append(ScopeError(sub, reason, status))
            continue
        found.scopes += 1
        for server in servers:
            group = plain_identifier(_resource_group(str(server.id or "")))
            name = plain_identifier(server.name)
            if not group or not name:
                found.skipped["unusable identifier"] += 1
                continue
            if wanted_groups and group.lower() not in wanted_groups:
                continue
            tags = {str(k): str(v) for k, v in (server.tags or {}).items()}
            if not tags_match(target.tags, tags):
                continue
            database = AzurePostgresTarget(
                name="discovered",
                kind="azure-postgres",
                subscription_id=sub,
                resource_group=group,
                server=name,
                access_token=target.access_token,
                management_endpoint=target.management_endpoint,
                ca_bundle=target.ca_bundle,
                connect=target.connect,
                labels=target.labels,
                target_timeout_seconds=target.target_timeout_seconds,
            )
            found.targets.append(
                database.model_copy(update={"name": f"{target.name}/{group}/{name}"})
            )
    found.targets.sort(key=lambda t: t.name)
    return found
