"""Azure collector for `azure-postgres` targets: a flexible server's data encryption, backup
retention and its TLS server parameters, read through Azure Resource Manager (GET only).
Its Key Vault is read by `azure_key_vault`."""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor.collectors.base import CollectContext, Collector, TargetProblem
from auditor.config import AzurePostgresTarget
from auditor.extras import not_installed
from auditor.facts import Facts, FactSection, Gap, GapKind
from auditor.model import TargetStatus

TLS_PARAMETERS = ("require_secure_transport", "ssl_min_protocol_version")


class ServerParameter(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    name: str
    value: str | None
    source: str | None = None
    default_value: str | None = None


class AzurePostgresFacts(FactSection):
    section = "azure_postgres"

    resource_id: str | None
    server: str
    version: str | None
    state: str | None
    data_encryption_type: str | None  # SystemManaged | AzureKeyVault | None (not reported)
    primary_key_uri: str | None
    backup_retention_days: int | None
    geo_redundant_backup: str | None
    parameters: dict[str, ServerParameter]
    unavailable: dict[str, str] = {}
    fqdn: str | None = None  # fullyQualifiedDomainName: where clients connect (port 5432)


class StaticToken:
    """A bearer token given in config (e.g. from `az account get-access-token`)."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        from azure.core.credentials import AccessToken

        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:
        return "StaticToken(***)"


class AzureCollector(Collector):
    name = "azure"
    produces = frozenset({"azure_postgres"})
    kinds = frozenset({"azure-postgres"})
    order = 30

    def collect(self, ctx: CollectContext, facts: Facts) -> TargetProblem | None:
        target = ctx.target
        assert isinstance(target, AzurePostgresTarget)
        try:
            from azure.mgmt.postgresqlflexibleservers import PostgreSQLManagementClient
        except ImportError:
            return _fail(
                facts,
                TargetStatus.ERROR,
                not_installed("the Azure SDK", "azure"),
            )
        options = client_options(ctx)
        if target.management_endpoint:
            options["base_url"] = target.management_endpoint
        client = PostgreSQLManagementClient(arm_credential(ctx), target.subscription_id, **options)
        try:
            facts.add(collect_flexible_server(client, target))
        except AzureProblem as exc:
            return _fail(facts, exc.status, exc.reason)
        return None


def arm_credential(ctx: CollectContext) -> Any:
    """The configured token, else the Azure default credential chain."""
    if ctx.password is not None:
        return StaticToken(ctx.password)
    from azure.identity import DefaultAzureCredential

    return DefaultAzureCredential()


def client_options(ctx: CollectContext) -> dict[str, Any]:
    """Transport options shared by the Resource Manager and Key Vault clients."""
    target = ctx.target
    assert isinstance(target, AzurePostgresTarget)
    options: dict[str, Any] = {"retry_total": 2, "connection_timeout": 10, "read_timeout": 30}
    if target.ca_bundle:
        options["connection_verify"] = str(ctx.config_dir / target.ca_bundle)
    return options


def _fail(facts: Facts, status: TargetStatus, reason: str) -> TargetProblem:
    facts.mark_missing(AzurePostgresFacts.section, Gap(GapKind.ERROR, reason))
    return TargetProblem(status, reason)


class AzureProblem(Exception):
    def __init__(self, status: TargetStatus, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _explain(exc: Exception, target: AzurePostgresTarget) -> AzureProblem:
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceNotFoundError,
        ServiceRequestError,
    )

    if isinstance(exc, ResourceNotFoundError):
        return AzureProblem(
            TargetStatus.ERROR,
            f"flexible server {target.server!r} not found in "
            f"resource group {target.resource_group!r}",
        )
    if isinstance(exc, ClientAuthenticationError):
        return AzureProblem(
            TargetStatus.ERROR,
            f"Azure authentication failed: {getattr(exc, 'reason', None) or type(exc).__name__}",
        )
    if isinstance(exc, ServiceRequestError):
        return AzureProblem(
            TargetStatus.UNREACHABLE, f"cannot reach Azure Resource Manager: {type(exc).__name__}"
        )
    if isinstance(exc, HttpResponseError):
        code = getattr(getattr(exc, "error", None), "code", None) or exc.status_code
        return AzureProblem(TargetStatus.ERROR, f"Azure API error {code}")
    return AzureProblem(TargetStatus.ERROR, f"{type(exc).__name__}")


def collect_flexible_server(client: Any, target: AzurePostgresTarget) -> AzurePostgresFacts:
    from azure.core.exceptions import HttpResponseError

    try:
        server = client.servers.get(target.resource_group, target.server)
    except Exception as exc:
        raise _explain(exc, target) from None
    unavailable: dict[str, str] = {}
    parameters: dict[str, ServerParameter] = {}
    for name in TLS_PARAMETERS:
        try:
            conf = client.configurations.get(target.resource_group, target.server, name)
        except HttpResponseError as exc:
            if exc.status_code == 403:
                unavailable[name] = (
                    "needs the Azure permission Microsoft.DBforPostgreSQL/"
                    "flexibleServers/configurations/read"
                )
                continue
            raise _explain(exc, target) from None
        except Exception as exc:
            raise _explain(exc, target) from None
        props = conf.properties
        parameters[name] = ServerParameter(
            name=name,
            value=getattr(props, "value", None),
            source=getattr(props, "source", None),
            default_value=getattr(props, "default_value", None),
        )
    props = server.properties
    encryption = getattr(props, "data_encryption", None)
    backup = getattr(props, "backup", None)
    return AzurePostgresFacts(
        resource_id=server.id,
        server=target.server,
        version=getattr(props, "version", None),
        state=getattr(props, "state", None),
        data_encryption_type=getattr(encryption, "type", None),
        primary_key_uri=getattr(encryption, "primary_key_uri", None),
        backup_retention_days=getattr(backup, "backup_retention_days", None),
        geo_redundant_backup=getattr(backup, "geo_redundant_backup", None),
        parameters=parameters,
        unavailable=unavailable,
        fqdn=getattr(props, "fully_qualified_domain_name", None),
    )


# -- Key Vault ---------------------------------------------------------------------------------
