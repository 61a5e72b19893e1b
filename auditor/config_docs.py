"""The configuration reference and the config file's JSON Schema, both generated from the
config models (auditor/config.py, auditor/policy.py), so they cannot drift from what the
loader accepts: `python tools/gen_config_docs.py` writes them (`auditor config-schema` prints
the schema), and a test fails when the checked-in copies differ from what the models produce.

Nothing here is specific to one field: every target kind comes from the `targets` union's
discriminator, every section from the models reachable from ScanConfig. A field's meaning is,
in order: its pydantic `description`, the comment on its line, the comment block right above
it (a one-line title such as `# Transport` groups fields and is not a meaning), then the few
meanings kept in FIELD_MEANINGS below for fields whose source has no comment.
"""

from __future__ import annotations

import ast
import inspect
import json
import textwrap
import types
import typing
from collections.abc import Iterator
from functools import cache
from typing import Any

from pydantic import BaseModel

from auditor.config import ScanConfig

SCHEMA_ID = "https://pg-encryption-auditor.invalid/schemas/config.schema.json"
SCHEMA_PATH = "auditor/schemas/config.schema.json"
DOC_PATH = "docs/configuration.md"
REGENERATE = "python tools/gen_config_docs.py"

# Meanings of fields whose source carries no comment, by "Model.field". A test checks that
# every entry still names a field, so a rename cannot leave a stale line behind.
FIELD_MEANINGS: dict[str, str] = {
    "ScanConfig.targets": "What to scan: a list of targets, each with a unique `name` and a "
    "`kind` (default `postgres`).",
    "ScanConfig.policy": "Thresholds the checks judge against; every key has a default that "
    "follows the reference design.",
    "Policy.min_tls_version": "Oldest TLS protocol version the server may accept "
    "(transport.tls_min_version).",
    "Policy.tls_profile": "Cipher suite profile the server's suites are judged against "
    "(Mozilla intermediate or modern, or `custom` with allowed_cipher_suites).",
    "Policy.certificate_min_days_left": "Days a server certificate must still be valid "
    "(transport.certificate_expiry).",
    "Policy.certificate_min_rsa_bits": "Smallest RSA key accepted in the server certificate.",
    "Policy.certificate_min_ec_bits": "Smallest elliptic-curve key accepted in the server "
    "certificate.",
    "Policy.tls_probe_timeout_seconds": "How long the TLS probe waits for the server.",
    "Policy.allowed_column_ciphers": "pgcrypto ciphers accepted for sensitive columns "
    "(column.cipher_strength).",
    "Policy.sample_rows_per_column": "Rows read per column when looking for plaintext "
    "personal data or ciphertext.",
    "Policy.sample_budget_seconds": "Time budget for sampling one database; what is not "
    "sampled in time makes the verdict partial.",
    "Policy.pii_min_fraction": "Fraction of sampled values that must look like personal data "
    "before an undeclared column is reported (column.plaintext_pii).",
    "Policy.access_log_table": "Table of the design's access log (audit.access_log_present).",
    "Policy.access_log_max_age_days": "Newest access-log entry may be at most this old "
    "(audit.access_log_active).",
    "Policy.backup_retention_min_days": "Shortest backup retention accepted on managed databases.",
    "Policy.encryption_key_max_age_days": "Oldest an encryption key may be before rotation "
    "(keys.secret_rotation_age, purpose encryption-key).",
    "Policy.master_password_max_age_days": "Oldest a master password may be before rotation "
    "(purpose master-password).",
    "Policy.kms_rotation_max_days": "Longest KMS key rotation period accepted "
    "(keys.kms_key_rotation).",
    "PostgresTarget.name": "The target's name in reports, waivers and history (unique).",
    "PostgresTarget.dsn": "libpq URL or keyword string to connect with; no inline password "
    "(use `password:`).",
    "PostgresTarget.password": "Where the password is kept: `{env: NAME}` or `{file: PATH}`.",
    "PostgresTarget.sensitive_columns": "Columns that must hold pgcrypto ciphertext "
    "(`table.column` or `schema.table.column`).",
    "PostgresTarget.tls_probe": "Probe the server's TLS configuration (protocols, suites, "
    "certificate).",
    "PostgresTarget.connect_timeout_seconds": "How long connecting may take.",
    "PostgresTarget.statement_timeout_ms": "Longest a single catalog query may run.",
    "PostgresTarget.target_timeout_seconds": "Longest the whole target may take; what is left "
    "is reported as not evaluated.",
    "EnvPassword.env": "Name of the environment variable holding the secret.",
    "FilePassword.file": "File holding the secret (relative to the config file's folder).",
    "DeclaredSecret.name": "The secret's name in its store.",
    "DeclaredSecret.purpose": "What the secret is; sets the default maximum age.",
    "DeclaredSecret.max_age_days": "Maximum age before rotation (default from purpose and policy).",
    "AccessLogMapping.table": "The audit table, `table` or `schema.table`.",
    "AccessLogMapping.columns": "The design's access-log column name -> your column name.",
    "AwsRdsTarget.region": "AWS region of the database.",
    "AwsRdsTarget.db_instance": "RDS DB instance identifier (or give db_cluster).",
    "AwsRdsTarget.db_cluster": "Aurora DB cluster identifier (or give db_instance).",
    "AwsRdsTarget.profile": "Named AWS profile; default: the SDK's credential chain.",
    "AwsRdsTarget.backup_buckets": "S3 buckets holding database backups (their default "
    "encryption is checked).",
    "AzurePostgresTarget.subscription_id": "Azure subscription of the server.",
    "AzurePostgresTarget.resource_group": "Resource group of the server.",
    "AzurePostgresTarget.server": "Flexible server name.",
    "GcpCloudSqlTarget.project": "Google Cloud project of the instance.",
    "GcpCloudSqlTarget.instance": "Cloud SQL instance name.",
    "GcpCloudSqlTarget.sqladmin_endpoint": "Cloud SQL Admin API endpoint (tests, private "
    "endpoints).",
    "HostTarget.data_directory": "PostgreSQL data directory on that host.",
    "HostTarget.temp_directories": "Temporary tablespace folders.",
    "HostTarget.wal_archive": "Where WAL is archived, when on this host.",
    "HostTarget.crypttab": "crypttab file read to tell which LUKS volumes unlock at boot.",
    "VaultTarget.address": "Vault server URL.",
    "VaultTarget.mount": "KV version 2 mount path.",
    "VaultTarget.namespace": "Vault Enterprise namespace.",
}

# Meanings of fields that several target kinds share, by field name.
SHARED_MEANINGS: dict[str, str] = {
    "kind": "Which kind of target this is (selects the keys below).",
    "secrets": "Declared secrets whose rotation age is checked (keys.secret_rotation_age).",
    "access_token": "Bearer token for the cloud API: `{env: NAME}` or `{file: PATH}`; "
    "default: the platform's credential chain.",
    "ca_bundle": "CA certificate file for TLS to the API endpoint.",
}

# Descriptions of models without a docstring.
MODEL_MEANINGS: dict[str, str] = {
    "PostgresTarget": "A PostgreSQL server (self-hosted or managed) reached with libpq: TLS, "
    "authentication, pgcrypto columns, personal data, key hygiene and the audit trail are "
    "checked inside it, read-only.",
    "ScanConfig": "The config file.",
    "Policy": "Thresholds the checks judge against. Every key is optional.",
}

_TITLE_MAX_WORDS = 4


@cache
def _field_comments(model: type[BaseModel]) -> dict[str, str]:
    """field -> meaning from the comments in the model's source (see module docstring)."""
    try:
        source = textwrap.dedent(inspect.getsource(model))
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    found: dict[str, str] = {}
    body = ast.parse(source).body[0]
    assert isinstance(body, ast.ClassDef)
    for node in body.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        line = lines[node.lineno - 1]
        if "  # " in line:
            found[node.target.id] = line.split("  # ", 1)[1].strip()
            continue
        block: list[str] = []
        i = node.lineno - 2
        while i >= 0 and lines[i].strip().startswith("#"):
            block.insert(0, lines[i].strip().lstrip("#").strip())
            i -= 1
        is_title = (
            len(block) == 1
            and len(block[0].split()) <= _TITLE_MAX_WORDS
            and not block[0].endswith(".")
        )
        if block and not is_title:
            found[node.target.id] = " ".join(block)
    return found


def _models(root: type[BaseModel]) -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    todo = [root]
    while todo:
        model = todo.pop()
        if model in seen:
            continue
        seen.add(model)
        yield model
        for field in model.model_fields.values():
            todo.extend(_nested_models(field.annotation))


def _nested_models(annotation: Any) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        for arg in typing.get_args(annotation):
            yield from _nested_models(arg)


def meaning(model: type[BaseModel], field: str) -> str:
    info = model.model_fields[field]
    if info.description:
        return info.description
    return (
        _field_comments(model).get(field)
        or FIELD_MEANINGS.get(f"{model.__name__}.{field}")
        or _inherited_meaning(model, field)
        or SHARED_MEANINGS.get(field, "")
    )


def _inherited_meaning(model: type[BaseModel], field: str) -> str:
    """Target kinds share `name`, `password`, timeouts...: one meaning serves them all."""
    for key, text in FIELD_MEANINGS.items():
        if key.endswith(f"Target.{field}") and key.split(".")[0] != model.__name__:
            return text
    return ""


def config_schema() -> dict[str, Any]:
    """ScanConfig's JSON Schema (draft 2020-12), with every field's meaning as its
    description (editors show it), and the `x-` top-level keys the loader ignores allowed."""
    schema = ScanConfig.model_json_schema(mode="validation")
    by_name = {model.__name__: model for model in _models(ScanConfig)}
    for name, model in by_name.items():
        node = schema if model is ScanConfig else schema.get("$defs", {}).get(name)
        if node is None:
            continue
        if "description" not in node and name in MODEL_MEANINGS:
            node["description"] = MODEL_MEANINGS[name]
        for field, prop in node.get("properties", {}).items():
            text = meaning(model, field)
            if text and "description" not in prop:
                prop["description"] = text
    schema["patternProperties"] = {"^x-": {"description": "Your own keys (YAML anchors)."}}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        **schema,
        "title": "Auditor configuration",
        "description": "Targets to scan and the policy they are judged against "
        f"(generated from the config models: {REGENERATE}).",
    }


def schema_text() -> str:
    return json.dumps(config_schema(), indent=2, sort_keys=True) + "\n"


# -- the Markdown reference -------------------------------------------------------------------


def _anchor(title: str) -> str:
    return "".join(c for c in title.lower().replace(" ", "-") if c.isalnum() or c in "-_")


def _type(prop: dict[str, Any], titles: dict[str, str]) -> str:
    if "$ref" in prop:
        name = prop["$ref"].rsplit("/", 1)[-1]
        title = titles.get(name, name)
        return f"[{title}](#{_anchor(title)})"
    if "const" in prop:
        return f"`{prop['const']}`"
    if "enum" in prop:
        return "one of " + ", ".join(f"`{v}`" for v in prop["enum"])
    if "anyOf" in prop or "oneOf" in prop:
        options = [o for o in prop.get("anyOf", prop.get("oneOf", [])) if o.get("type") != "null"]
        return " or ".join(_type(o, titles) for o in options)
    kind = prop.get("type")
    if kind == "array":
        items = prop.get("items")
        if isinstance(items, dict) and items:
            return f"list of {_type(items, titles)}"
        return "list"
    if kind == "object":
        values = prop.get("additionalProperties")
        if isinstance(values, dict) and values:
            return f"mapping to {_type(values, titles)}"
        return "mapping"
    text = {"string": "text", "integer": "whole number", "number": "number"}.get(
        str(kind), str(kind or "any")
    )
    limits = [
        f"{sign} {prop[key]}"
        for key, sign in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if key in prop
    ]
    if "pattern" in prop:
        limits.append(f"matching `{prop['pattern']}`")
    return text + (f" ({', '.join(limits)})" if limits else "")


def _default(prop: dict[str, Any], required: bool) -> str:
    if required:
        return "**required**"
    if "default" not in prop:
        return ""
    value = prop["default"]
    if value is None:
        return "none"
    if value in ([], {}):
        return "empty"
    return f"`{json.dumps(value)}`"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _table(node: dict[str, Any], titles: dict[str, str]) -> list[str]:
    rows = ["| key | type | default | meaning |", "| --- | --- | --- | --- |"]
    required = set(node.get("required", ()))
    for field, prop in node.get("properties", {}).items():
        rows.append(
            f"| `{field}` | {_cell(_type(prop, titles))} | {_default(prop, field in required)} "
            f"| {_cell(prop.get('description', ''))} |"
        )
    return rows


def _kinds(schema: dict[str, Any]) -> dict[str, str]:
    """target kind -> the $defs name of its model, from the targets union's discriminator."""
    items = schema["properties"]["targets"]["items"]
    mapping = items.get("discriminator", {}).get("mapping", {})
    ordered = sorted(mapping.items(), key=lambda kv: (kv[0] != "postgres", kv[0]))
    return {kind: ref.rsplit("/", 1)[-1] for kind, ref in ordered}


def reference_markdown() -> str:
    schema = config_schema()
    defs: dict[str, Any] = schema.get("$defs", {})
    kinds = _kinds(schema)
    titles = {name: f"kind: {kind}" for kind, name in kinds.items()}
    policy_ref = schema["properties"].get("policy", {}).get("$ref", "")
    policy_name = policy_ref.rsplit("/", 1)[-1] if policy_ref else ""
    if policy_name:
        titles[policy_name] = "policy"
    for name in defs:
        titles.setdefault(name, name)
    out = [
        "# Configuration reference",
        "",
        f"<!-- Generated from the config models by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "A config file is YAML: `targets:` (what to scan) and `policy:` (what it is judged "
        "against). `auditor validate -c FILE` checks one without scanning. Editors that "
        f"read JSON Schema can complete and check it with [{SCHEMA_PATH}](../{SCHEMA_PATH}) "
        "(`auditor config-schema` prints the one of your installed version); "
        "for the YAML language server, start the file with",
        "",
        "```yaml",
        f"# yaml-language-server: $schema={SCHEMA_ID}",
        "```",
        "",
        "(or a path to a file written by `auditor config-schema -o FILE`). Secrets are never "
        "written in the config: `password: {env: NAME}` or `password: {file: PATH}` say "
        "where they are kept. Top-level keys starting with `x-` are yours (a place for YAML "
        "anchors that targets merge with `<<: *name`).",
        "",
        "## Top level",
        "",
        *_table(schema, titles),
        "",
        "## Targets",
        "",
        "Each target has a `kind` (default `postgres`):",
        "",
    ]
    for kind, name in kinds.items():
        first = " ".join(defs[name].get("description", "").split()).split(". ")[0]
        out.append(f"* [`{kind}`](#{_anchor(titles[name])}){': ' + first if first else ''}")
    out.append("")
    for name in kinds.values():
        node = defs[name]
        out += [f"### {titles[name]}", ""]
        if node.get("description"):
            out += [" ".join(node["description"].split()), ""]
        out += [*_table(node, titles), ""]
    if policy_name:
        out += ["## policy", ""]
        if defs[policy_name].get("description"):
            out += [" ".join(defs[policy_name]["description"].split()), ""]
        out += [*_table(defs[policy_name], titles), ""]
    others = sorted(n for n in defs if n not in kinds.values() and n != policy_name)
    if others:
        out += ["## Nested values", ""]
    for name in others:
        node = defs[name]
        out += [f"### {titles[name]}", ""]
        if node.get("description"):
            out += [" ".join(node["description"].split()), ""]
        if node.get("properties"):
            out += [*_table(node, titles), ""]
        elif "enum" in node:
            out += ["One of " + ", ".join(f"`{v}`" for v in node["enum"]) + ".", ""]
    return "\n".join(out).rstrip("\n") + "\n"


def generated_files() -> dict[str, str]:
    """Repository-relative path -> the text it must hold."""
    return {SCHEMA_PATH: schema_text(), DOC_PATH: reference_markdown()}
