"""Code facts: where SQL in the database hands pgcrypto a literal key (functions, views,
column defaults, triggers), which wrappers take a key as a parameter, and which decrypting
functions run as their owner (SECURITY DEFINER) and who may execute them.

Only locations, call names and redacted snippets are kept; a key is never stored.
The catalogs read here (pg_proc, pg_class, pg_attrdef, pg_trigger) are readable by any role.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from auditor import pii
from auditor.collectors.base import CollectContext
from auditor.collectors.pg import key_literals as kl
from auditor.collectors.pg.server import GRANT_FILE_SETTINGS
from auditor.collectors.pg.session import PgSession, SessionCollector
from auditor.facts import FactSection
from auditor.pg_ident import quote_ident, sql_ident

USER_SCHEMAS = """n.nspname NOT IN ('pg_catalog', 'information_schema')
    AND n.nspname !~ '^(pg_toast|pg_temp_|_timescaledb|timescaledb_)'"""
NOT_EXTENSION_MEMBER = """NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
    WHERE d.classid = '{catalog}'::pg_catalog.regclass AND d.objid = {oid} AND d.deptype = 'e')"""
# Learning wrappers of wrappers converges fast; this bounds pathological chains.
WRAPPER_ROUNDS = 4
# A body is read up to this many characters (the scan stays bounded whatever the owner
# writes); longer bodies are listed in the facts as truncated.
MAX_BODY_CHARS = 256 * 1024


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class KeyUse(_Row):
    """A place where a literal key is handed to pgcrypto or a wrapper."""

    kind: str  # function | view | column default | trigger
    location: str  # e.g. "function public.seed_user(text)", "view public.users_clear"
    call: str  # the function receiving the key
    via: str  # "literal", "constant variable k", "trigger argument 0"
    snippet: str  # the call with every literal except options replaced by '***'


class StoredKey(_Row):
    """A key kept in the database's settings: never the value, only where and how long."""

    kind: str  # database setting | role setting | server setting
    location: str  # e.g. "ALTER DATABASE app SET app.enc_key", "postgresql.conf:12"
    setting: str
    masked: str  # "'***' (32 characters)"
    why: str  # "key-like name" | "key-like value"


class DecryptFunction(_Row):
    function: str  # schema.name(args)
    owner: str
    security_definer: bool
    executors: tuple[str, ...]  # roles with EXECUTE, "PUBLIC" included when granted


class CodeFacts(FactSection):
    section = "code"

    functions_scanned: int
    views_scanned: int
    defaults_scanned: int
    triggers_scanned: int
    # function name -> 1-based position of its key parameter (pgcrypto, design, learnt)
    key_functions: dict[str, int]
    literal_keys: tuple[KeyUse, ...]
    decrypt_functions: tuple[DecryptFunction, ...]
    pgcrypto_calls: int  # objects whose SQL calls pgcrypto's functions
    # objects whose SQL was longer than max_body_chars and was read only that far
    truncated: tuple[str, ...] = ()
    max_body_chars: int = MAX_BODY_CHARS
    stored_keys: tuple[StoredKey, ...] = ()
    # item -> what would make it readable (pg_file_settings needs a grant)
    unavailable: dict[str, str] = {}


def _user_filter(catalog: str, oid: str) -> str:
    return f"{USER_SCHEMAS} AND {NOT_EXTENSION_MEMBER.format(catalog=catalog, oid=oid)}"


class CodeCollector(SessionCollector):
    model = CodeFacts
    order = 40

    def collect(self, session: PgSession, ctx: CollectContext) -> CodeFacts:
        functions = session.rows(
            f"""SELECT p.oid, n.nspname, p.proname,
                       pg_catalog.pg_get_function_identity_arguments(p.oid) AS args,
                       pg_catalog.pg_get_function_arguments(p.oid) AS full_args,
                       coalesce(p.proargnames, '{{}}'::pg_catalog.text[]) AS argnames, p.pronargs,
                       pg_catalog.left(CASE WHEN coalesce(p.prosrc, '') = ''
                            THEN pg_catalog.pg_get_functiondef(p.oid) ELSE p.prosrc END,
                            {MAX_BODY_CHARS + 1}) AS src,
                       p.prosecdef, pg_catalog.pg_get_userbyid(p.proowner) AS owner,
                       ARRAY(SELECT DISTINCT CASE WHEN a.grantee = 0 THEN 'PUBLIC'
                                   ELSE pg_catalog.pg_get_userbyid(a.grantee) END
                             FROM pg_catalog.aclexplode(coalesce(
                                 p.proacl, pg_catalog.acldefault('f', p.proowner))) a
                             WHERE a.privilege_type = 'EXECUTE' ORDER BY 1) AS executors
                FROM pg_catalog.pg_proc p
                JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                JOIN pg_catalog.pg_language l ON l.oid = p.prolang
                WHERE l.lanname NOT IN ('c', 'internal')
                  AND {_user_filter("pg_catalog.pg_proc", "p.oid")}
                ORDER BY n.nspname, p.proname, p.oid"""
        )
        truncated: list[str] = []
        for f in functions:
            where = f"function {f['nspname']}.{f['proname']}({f['args']})"
            f["toks"] = _tokens(f["src"], where, truncated)
        key_args = dict(kl.PGCRYPTO_KEY_ARGS) | dict(kl.DESIGN_WRAPPERS)
        decryptors = set(kl.DECRYPT_FUNCTIONS) | {"decrypt_text"}
        self._learn_wrappers(functions, key_args, decryptors)

        uses: list[KeyUse] = []
        pgcrypto_calls = 0
        core = frozenset(kl.PGCRYPTO_KEY_ARGS)
        decrypt_functions: list[DecryptFunction] = []
        trigger_keys: dict[int, set[int]] = {}
        for f in functions:
            src = f["toks"]
            params = _params(f)
            where = f"function {f['nspname']}.{f['proname']}({f['args']})"
            uses.extend(
                KeyUse(kind="function", location=where, call=k.call, via=k.via, snippet=k.snippet)
                for k in kl.literal_keys(src, key_args, params)
            )
            uses.extend(self._key_defaults(f, key_args, where))
            pgcrypto_calls += kl.calls_any(src, core)
            if kl.calls_any(src, decryptors) or f["proname"].lower() in decryptors - set(
                kl.DECRYPT_FUNCTIONS
            ):
                decrypt_functions.append(
                    DecryptFunction(
                        function=f"{f['nspname']}.{f['proname']}({f['args']})",
                        owner=f["owner"],
                        security_definer=bool(f["prosecdef"]),
                        executors=tuple(f["executors"] or ()),
                    )
                )
            found = kl.trigger_key_arguments(src, key_args)
            if found:
                trigger_keys[f["oid"]] = found

        views = session.rows(
            f"""SELECT n.nspname, c.relname, c.relkind,
                       pg_catalog.left(pg_catalog.pg_get_viewdef(c.oid), {MAX_BODY_CHARS + 1})
                           AS src
                FROM pg_catalog.pg_class c
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                WHERE c.relkind IN ('v', 'm') AND {_user_filter("pg_catalog.pg_class", "c.oid")}
                ORDER BY 1, 2"""
        )
        for v in views:
            kind = "materialized view" if v["relkind"] == "m" else "view"
            where = f"{kind} {v['nspname']}.{v['relname']}"
            src = _tokens(v["src"], where, truncated)
            pgcrypto_calls += kl.calls_any(src, core)
            uses.extend(
                KeyUse(kind="view", location=where, call=k.call, via=k.via, snippet=k.snippet)
                for k in kl.literal_keys(src, key_args)
            )

        defaults = session.rows(
            f"""SELECT n.nspname, c.relname, a.attname,
                       pg_catalog.left(pg_catalog.pg_get_expr(d.adbin, d.adrelid),
                                       {MAX_BODY_CHARS + 1}) AS src
                FROM pg_catalog.pg_attrdef d
                JOIN pg_catalog.pg_class c ON c.oid = d.adrelid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_catalog.pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                WHERE {_user_filter("pg_catalog.pg_class", "c.oid")}
                ORDER BY 1, 2, 3"""
        )
        for d in defaults:
            where = f"column default {d['nspname']}.{d['relname']}.{d['attname']}"
            src = _tokens(d["src"], where, truncated)
            pgcrypto_calls += kl.calls_any(src, core)
            uses.extend(
                KeyUse(
                    kind="column default", location=where, call=k.call, via=k.via, snippet=k.snippet
                )
                for k in kl.literal_keys(src, key_args)
            )

        triggers = session.rows(
            f"""SELECT t.tgname, n.nspname, c.relname, t.tgfoid, t.tgnargs,
                       p.proname, pg_catalog.pg_get_triggerdef(t.oid) AS src
                FROM pg_catalog.pg_trigger t
                JOIN pg_catalog.pg_class c ON c.oid = t.tgrelid
                JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
                JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                WHERE NOT t.tgisinternal AND {_user_filter("pg_catalog.pg_class", "c.oid")}
                ORDER BY 2, 3, 1"""
        )
        for t in triggers:
            positions = {k for k in trigger_keys.get(t["tgfoid"], set()) if k < t["tgnargs"]}
            if not positions:
                continue
            trigger_src = (t["src"] or "")[:MAX_BODY_CHARS]
            call = next(iter(kl.calls(trigger_src, {t["proname"].lower()})), None)
            snippet = kl.redacted(call, min(positions)) if call else t["proname"] + "(...)"
            for k in sorted(positions):
                uses.append(
                    KeyUse(
                        kind="trigger",
                        location=f"trigger {t['tgname']} on {t['nspname']}.{t['relname']}",
                        call=t["proname"],
                        via=f"trigger argument {k} (TG_ARGV[{k}])",
                        snippet=f"EXECUTE FUNCTION {snippet}",
                    )
                )

        unavailable: dict[str, str] = {}
        stored = _stored_keys(session, unavailable)
        return CodeFacts(
            functions_scanned=len(functions),
            views_scanned=len(views),
            defaults_scanned=len(defaults),
            triggers_scanned=len(triggers),
            key_functions={k: v + 1 for k, v in sorted(key_args.items())},
            literal_keys=tuple(uses),
            decrypt_functions=tuple(decrypt_functions),
            pgcrypto_calls=pgcrypto_calls,
            truncated=tuple(truncated),
            stored_keys=tuple(stored),
            unavailable=unavailable,
        )

    @staticmethod
    def _key_defaults(f: dict[str, Any], key_args: dict[str, int], where: str) -> list[KeyUse]:
        """A key parameter with a constant DEFAULT: callers that omit it use a stored key."""
        params = _params(f)
        reaching = kl.key_parameters(f["toks"], key_args, params)
        defaults = kl.literal_defaults(f["full_args"] or "")
        return [
            KeyUse(
                kind="function",
                location=where,
                call=f["proname"],
                via=f"default of parameter {params[i] if i < len(params) else i + 1}",
                snippet=f"{params[i] if i < len(params) else '$' + str(i + 1)} ... DEFAULT '***'",
            )
            for i in sorted(reaching & defaults)
        ]

    @staticmethod
    def _learn_wrappers(
        functions: list[dict[str, Any]], key_args: dict[str, int], decryptors: set[str]
    ) -> None:
        """Add every function that passes one of its parameters into a key position."""
        for _ in range(WRAPPER_ROUNDS):
            changed = False
            for f in functions:
                name = f["proname"].lower()
                if name in key_args:
                    continue
                positions = kl.key_parameters(f["toks"], key_args, _params(f))
                if positions:
                    key_args[name] = min(positions)
                    if kl.calls_any(f["toks"], decryptors):
                        decryptors.add(name)
                    changed = True
            if not changed:
                return


def _tokens(src: str | None, where: str, truncated: list[str]) -> list[kl.Token]:
    """The tokens of a body read up to MAX_BODY_CHARS (noting the cut in `truncated`)."""
    text = src or ""
    if len(text) > MAX_BODY_CHARS:
        truncated.append(where)
        text = text[:MAX_BODY_CHARS]
    return kl.tokens(text)


def _params(f: dict[str, Any]) -> tuple[str, ...]:
    names = list(f["argnames"] or ())
    return tuple(str(n) for n in names[: f["pronargs"]])


def _stored_setting(name: str, value: str | None) -> str | None:
    """Why a custom setting looks like a stored key, or None."""
    if not value or "." not in name:
        return None
    if pii.key_like_name(name.rpartition(".")[2]):
        return "key-like name"
    if pii.key_like_value(value):
        return "key-like value"
    return None


def _stored_keys(session: PgSession, unavailable: dict[str, str]) -> list[StoredKey]:
    """Custom settings holding keys: per database or role (ALTER DATABASE/ROLE ... SET, read
    back by current_setting), in postgresql.conf or in effect for this session."""
    found: list[StoredKey] = []
    rows = session.rows_or_none(
        """SELECT d.datname, r.rolname, s.setconfig
           FROM pg_catalog.pg_db_role_setting s
           LEFT JOIN pg_catalog.pg_database d ON d.oid = s.setdatabase
           LEFT JOIN pg_catalog.pg_roles r ON r.oid = s.setrole
           ORDER BY 1 NULLS FIRST, 2 NULLS FIRST"""
    )
    if rows is None:
        unavailable["pg_db_role_setting"] = (
            f"GRANT SELECT ON pg_catalog.pg_db_role_setting TO {_scanner(session)};"
        )
    for r in rows or ():
        for item in r["setconfig"] or ():
            name, _, value = str(item).partition("=")
            why = _stored_setting(name, value)
            if why is None:
                continue
            role, db = quote_ident(r["rolname"] or ""), quote_ident(r["datname"] or "")
            if r["rolname"] and r["datname"]:
                where = f"ALTER ROLE {role} IN DATABASE {db} SET {name}"
                kind = "role setting"
            elif r["rolname"]:
                where, kind = f"ALTER ROLE {role} SET {name}", "role setting"
            else:
                where, kind = f"ALTER DATABASE {db} SET {name}", "database setting"
            found.append(
                StoredKey(
                    kind=kind, location=where, setting=name, masked=pii.mask_secret(value), why=why
                )
            )
    seen = {k.setting for k in found}
    for r in session.rows(
        """SELECT name, setting, source, sourcefile, sourceline FROM pg_catalog.pg_settings
           WHERE name OPERATOR(pg_catalog.~) '[.]' AND source NOT IN ('database', 'user',
                 'database user', 'session', 'client')
           ORDER BY name"""
    ):
        where = f"{r['sourcefile']}:{r['sourceline']}" if r["sourcefile"] else str(r["source"])
        _add_server_setting(found, seen, r["name"], r["setting"], where)
    files = session.rows_or_none(
        """SELECT name, setting, sourcefile, sourceline FROM pg_catalog.pg_file_settings
           WHERE name OPERATOR(pg_catalog.~) '[.]' ORDER BY sourcefile, sourceline"""
    )
    if files is None:
        unavailable["pg_file_settings"] = GRANT_FILE_SETTINGS.format(role=_scanner(session))
    for r in files or ():
        where = f"{r['sourcefile']}:{r['sourceline']}"
        _add_server_setting(found, seen, r["name"], r["setting"], where)
    return found


def _add_server_setting(
    found: list[StoredKey], seen: set[str], name: str, value: str, where: str
) -> None:
    """A server-wide custom setting (pg_settings or pg_file_settings) that holds a key, once."""
    why = _stored_setting(name, value)
    if why is None or name in seen:
        return
    found.append(
        StoredKey(
            kind="server setting",
            location=f"{name} ({where})",
            setting=name,
            masked=pii.mask_secret(value),
            why=why,
        )
    )
    seen.add(name)


def _scanner(session: PgSession) -> str:
    """The scanning role, quoted for the GRANT that would let it read what it could not."""
    return sql_ident(str(session.value("SELECT current_user")))
