"""Layer 2, column encryption: are the declared sensitive columns really OpenPGP ciphertext
under a strong cipher, is personal data sitting in clear elsewhere, and are the keys kept out
of the database's code and logs?

Evidence names columns as `table.column` and functions by signature; it carries counts,
labels, masked examples and redacted snippets, never a sampled value or a key.
"""

from __future__ import annotations

from typing import Any

from auditor import pgp
from auditor.checks.base import Check
from auditor.collectors.pg.code import CodeFacts
from auditor.collectors.pg.columns import ColumnFacts, ColumnSample
from auditor.collectors.pg.server import ServerFacts
from auditor.facts import NOT_COLLECTED, Facts
from auditor.model import Result, Severity, Status
from auditor.pg_ident import quote_ident
from auditor.pii import CARD

CONTROLS_NOTE = "PCI DSS 3.4 requires PAN to be unreadable wherever it is stored."
WEAK_CIPHERS = {"aes128": Severity.MEDIUM, "aes192": Severity.MEDIUM}
PLAINTEXT_EXPOSED_SHAPE = "OpenPGP header over clear literal data"


def _worst(severities: list[Severity]) -> Severity:
    return max(severities, key=lambda s: s.rank)


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "0%"


def _declared_samples(columns: ColumnFacts) -> list[ColumnSample]:
    return [s for s in columns.samples if s.declared]


def _nothing_declared(columns: ColumnFacts) -> str:
    if columns.declared_elsewhere:  # a database of a server target without those tables
        return "none of the declared sensitive_columns is in this database"
    return "no sensitive_columns are declared for this target"


def _version(num: int) -> str:
    major, minor = divmod(num, 10000)
    return f"{major}.{minor}"


class PgcryptoInstalled(Check):
    id = "column.pgcrypto_installed"
    title = "pgcrypto is installed where sensitive columns are declared"
    severity = Severity.HIGH
    rationale = "Column encryption in the database relies on pgcrypto's pgp_sym_encrypt."
    remediation = "CREATE EXTENSION pgcrypto; in the application database."
    requires = (ColumnFacts,)
    facets = frozenset[str]()  # the extension's version only: no sampling

    def run(self, facts: Facts) -> list[Result]:
        columns = facts.get(ColumnFacts)
        if not columns.declared:
            return [self.skipped(facts, _nothing_declared(columns))]
        evidence = {
            "pgcrypto_version": columns.pgcrypto_version,
            "sensitive_columns": list(columns.declared),
        }
        if columns.pgcrypto_version is None:
            return [
                self.failed(facts, "pgcrypto is not installed in this database", evidence=evidence)
            ]
        return [
            self.passed(
                facts, f"pgcrypto {columns.pgcrypto_version} is installed", evidence=evidence
            )
        ]


class SensitiveEncrypted(Check):
    id = "column.sensitive_encrypted"
    title = "Declared sensitive columns hold OpenPGP ciphertext"
    severity = Severity.CRITICAL
    rationale = (
        "Personal data left in clear in a sensitive column is exposed to every backup, replica "
        "and role that can read the table."
    )
    remediation = (
        "Encrypt the column with pgp_sym_encrypt(value, key, 'cipher-algo=aes256') (or the "
        "application's encrypt_text wrapper), re-writing existing rows, with the key supplied "
        "by the application from its secrets manager."
    )
    requires = (ColumnFacts,)
    facets = frozenset({"columns:declared"})

    def run(self, facts: Facts) -> list[Result]:
        columns = facts.get(ColumnFacts)
        if "declared" not in columns.parts:
            return [self.skipped(facts, NOT_COLLECTED)]
        results: list[Result] = [
            self.skipped(facts, f"declared column {name}: {why}", resource=name)
            for name, why in sorted(columns.declared_elsewhere.items())
        ]
        if not columns.declared:
            return results or [self.skipped(facts, _nothing_declared(columns))]
        for name, problem in sorted(columns.declared_problems.items()):
            if problem.startswith(("no SELECT privilege", "row-level security")):
                results.append(self.skipped(facts, problem, resource=name))
            else:
                results.append(
                    self.errored(facts, f"declared column {name}: {problem}", resource=name)
                )
        for name, what in sorted(columns.not_executed.items()):
            results.append(self.skipped(facts, f"declared column {name}: {what}", resource=name))
        for s in _declared_samples(columns):
            label = f"{s.name} (under declared {s.declared_as})" if s.declared_as else s.name
            encrypted = s.openpgp - s.plaintext_exposed
            shapes = dict(s.shapes)
            if s.plaintext_exposed:
                shapes[PLAINTEXT_EXPOSED_SHAPE] = s.plaintext_exposed
            evidence: dict[str, Any] = {
                "sampled": s.sampled,
                "ciphertext": encrypted,
                **({"declared_as": s.declared_as} if s.declared_as else {}),
                "sampling": s.method,
                "estimated_rows": s.estimated_rows,
                "encodings": s.encodings,
                "not_ciphertext_shapes": shapes,
            }
            if s.sampled == 0:
                results.append(
                    self.skipped(
                        facts,
                        f"{label}: no non-null values sampled: nothing to judge",
                        resource=s.name,
                        evidence=evidence,
                    )
                )
            elif encrypted < s.sampled:
                clear = s.sampled - encrypted
                shape_text = ", ".join(f"{k} {v}" for k, v in sorted(shapes.items()))
                results.append(
                    self.failed(
                        facts,
                        f"{label}: {clear} of {s.sampled} sampled values "
                        f"({_pct(clear, s.sampled)}) are not OpenPGP ciphertext ({shape_text})",
                        resource=s.name,
                        evidence=evidence,
                    )
                )
            else:
                results.append(
                    self.passed(
                        facts,
                        f"{label}: all {s.sampled} sampled values are OpenPGP ciphertext",
                        resource=s.name,
                        evidence=evidence,
                    )
                )
        return results


class CipherStrength(Check):
    id = "column.cipher_strength"
    title = "Column ciphertext uses a strong cipher, S2K and integrity protection"
    severity = Severity.HIGH
    rationale = (
        "pgcrypto accepts legacy ciphers, an unsalted key derivation and messages without an "
        "integrity check (tag 9), each of which weakens the column encryption."
    )
    remediation = (
        "Re-encrypt with pgp_sym_encrypt(value, key, 'cipher-algo=aes256, s2k-mode=3, "
        "s2k-digest-algo=sha256') and never pass disable-mdc=1."
    )
    requires = (ColumnFacts,)

    def run(self, facts: Facts) -> list[Result]:
        columns = facts.get(ColumnFacts)
        allowed = set(facts.target.policy.allowed_column_ciphers)
        results: list[Result] = []
        for s in columns.samples:
            if not s.openpgp:
                continue
            issues: list[tuple[str, Severity]] = []
            for cipher, n in sorted(s.ciphers.items()):
                if cipher not in allowed:
                    sev = WEAK_CIPHERS.get(cipher, Severity.HIGH)
                    issues.append(
                        (
                            f"cipher {cipher} on {n} values (policy: {', '.join(sorted(allowed))})",
                            sev,
                        )
                    )
            if s.s2k_modes.get("simple"):
                issues.append(
                    (
                        f"S2K mode 0 (simple, unsalted) on {s.s2k_modes['simple']} values",
                        Severity.HIGH,
                    )
                )
            if s.s2k_modes.get("salted"):
                issues.append(
                    (
                        f"S2K mode 1 (salted, not iterated) on {s.s2k_modes['salted']} values",
                        Severity.LOW,
                    )
                )
            if s.s2k_digests.get("md5"):
                issues.append((f"S2K digest MD5 on {s.s2k_digests['md5']} values", Severity.MEDIUM))
            if s.integrity.get("none"):
                issues.append(
                    (
                        f"no integrity protection (tag 9, disable-mdc) on "
                        f"{s.integrity['none']} values",
                        Severity.HIGH,
                    )
                )
            evidence = {
                "ciphertext_values": s.openpgp,
                "ciphers": s.ciphers,
                "s2k_modes": s.s2k_modes,
                "s2k_digests": s.s2k_digests,
                "min_s2k_iterations": s.min_s2k_count,
                "integrity": s.integrity,
                "declared": s.declared,
            }
            compare = {
                "expected": f"{', '.join(sorted(allowed))}, iterated+salted S2K, integrity "
                "protected",
                "actual": ", ".join(
                    [f"{c} x{n}" for c, n in sorted(s.ciphers.items())]
                    + [f"S2K {m} x{n}" for m, n in sorted(s.s2k_modes.items()) if n]
                    + [f"integrity {m} x{n}" for m, n in sorted(s.integrity.items()) if n]
                ),
            }
            if issues:
                results.append(
                    self.failed(
                        facts,
                        f"{s.name}: " + "; ".join(text for text, _ in issues),
                        resource=s.name,
                        evidence=evidence,
                        severity=_worst([sev for _, sev in issues]),
                        **compare,
                    )
                )
            else:
                mix = ", ".join(sorted(s.ciphers))
                results.append(
                    self.passed(
                        facts,
                        f"{s.name}: {s.openpgp} messages, {mix}, iterated+salted S2K, "
                        "integrity protected",
                        resource=s.name,
                        evidence=evidence,
                        **compare,
                    )
                )
        if not results:
            return [self.skipped(facts, "no OpenPGP ciphertext was found in the sampled columns")]
        return results


class CipherFailurePlaintext(Check):
    id = "column.cipher_failure_plaintext"
    title = "No OpenPGP message carries its data in clear (pgcrypto bf/cast5 failure)"
    severity = Severity.CRITICAL
    rationale = (
        "On OpenSSL 3 without the legacy provider, unpatched pgcrypto (15 < 15.19, 16 < 16.15, "
        "17 < 17.11, 18 < 18.6) stores Blowfish/CAST5 'ciphertext' as the literal data in clear."
    )
    remediation = (
        "Treat the affected values as plaintext: re-encrypt them with cipher-algo=aes256, "
        "upgrade PostgreSQL to a fixed minor release, and never use cipher-algo=bf or cast5."
    )
    requires = (ColumnFacts,)

    def run(self, facts: Facts) -> list[Result]:
        columns = facts.get(ColumnFacts)
        fixed = pgp.fixed_in(columns.server_version_num)
        server = {
            "server_version": _version(columns.server_version_num),
            "release_has_fix": fixed,
        }
        results: list[Result] = []
        inspected = 0
        for s in columns.samples:
            inspected += s.openpgp
            if not s.plaintext_exposed:
                continue
            bad_ciphers = sorted(c for c in s.ciphers if c in ("blowfish", "cast5"))
            results.append(
                self.failed(
                    facts,
                    f"{s.name}: {s.plaintext_exposed} of {s.openpgp} OpenPGP messages hold their "
                    f"literal data unencrypted (ciphers: {', '.join(sorted(s.ciphers))}; "
                    f"server {server['server_version']}"
                    + ("" if fixed else ", a release without the pgcrypto fix")
                    + ")",
                    resource=s.name,
                    evidence={
                        **server,
                        "exposed": s.plaintext_exposed,
                        "messages": s.openpgp,
                        "ciphers": s.ciphers,
                        "suspect_ciphers": bad_ciphers,
                    },
                )
            )
        if results:
            return results
        if inspected == 0:
            return [
                self.skipped(
                    facts,
                    "no OpenPGP message was found in the sampled columns: nothing to inspect "
                    "for clear literal data",
                    evidence={**server, "messages_inspected": 0},
                )
            ]
        return [
            self.passed(
                facts,
                f"none of the {inspected} sampled OpenPGP messages carries readable data",
                evidence={**server, "messages_inspected": inspected},
            )
        ]


class PlaintextPii(Check):
    id = "column.plaintext_pii"
    title = "No undeclared column holds plaintext personal data"
    severity = Severity.HIGH
    rationale = (
        "Personal data copied into columns nobody declared sensitive (notes, logs, exports) "
        "escapes the column encryption entirely. " + CONTROLS_NOTE
    )
    remediation = (
        "Encrypt the column like the declared ones (and declare it in sensitive_columns), or "
        "remove or tokenise the personal data it holds."
    )
    requires = (ColumnFacts,)
    facets = frozenset({"columns:undeclared"})

    def run(self, facts: Facts) -> list[Result]:
        columns = facts.get(ColumnFacts)
        if "undeclared" not in columns.parts:
            return [self.skipped(facts, NOT_COLLECTED)]
        threshold = facts.target.policy.pii_min_fraction
        results: list[Result] = []
        scanned = 0
        with_values = 0  # columns whose sample held any value: what was actually judged
        audit_trail = [s.name for s in columns.samples if s.audit_trail and not s.declared]
        for s in columns.samples:
            if s.declared or s.audit_trail:
                continue
            scanned += 1
            with_values += s.sampled > 0
            hits = [p for p in s.pii if p.fraction >= threshold]
            if not hits:
                continue
            kinds = ", ".join(
                f"{p.kind} in {p.count}/{s.sampled} ({_pct(p.count, s.sampled)}), e.g. "
                + " ".join(p.examples)
                for p in hits
            )
            severity = Severity.CRITICAL if any(p.kind == CARD for p in hits) else Severity.HIGH
            results.append(
                self.failed(
                    facts,
                    f"{s.name}: plaintext {kinds}",
                    resource=s.name,
                    severity=severity,
                    evidence={
                        "sampled": s.sampled,
                        "sampling": s.method,
                        "estimated_rows": s.estimated_rows,
                        "pii": [p.model_dump(mode="json") for p in hits],
                    },
                )
            )
        for table, grant in sorted(columns.unreadable.items()):
            results.append(
                self.skipped(
                    facts,
                    f"table {table} could not be sampled: {grant} (or, for every table at once: "
                    f"GRANT pg_read_all_data TO {quote_ident(columns.current_user)};)",
                    resource=table,
                    evidence={"grant": grant},
                )
            )
        for table, why in sorted(columns.rls_filtered.items()):
            results.append(
                self.skipped(facts, f"table {table} was not sampled: {why}", resource=table)
            )
        for table, error in sorted(columns.errors.items()):
            results.append(
                self.errored(facts, f"table {table} could not be sampled: {error}", resource=table)
            )
        if columns.not_sampled:
            results.append(
                self.skipped(
                    facts,
                    f"the sampling budget of {columns.budget_seconds:g} s ran out before "
                    f"{len(columns.not_sampled)} tables: {', '.join(columns.not_sampled[:20])}",
                    evidence={"not_sampled": list(columns.not_sampled)},
                )
            )
        if any(r.status is Status.FAIL for r in results):
            return results
        unread = (
            len(columns.unreadable)
            + len(columns.rls_filtered)
            + len(columns.errors)
            + len(columns.not_sampled)
        )
        evidence: dict[str, Any] = {
            "columns_scanned": scanned,
            "min_fraction": threshold,
            "tables_not_read": unread,
            "sample_seed": columns.sample_seed,
        }
        if audit_trail:
            # Who accessed and from where is what an access log must record in clear.
            evidence["audit_trail_columns"] = audit_trail
        found = (
            f"no personal data found in {scanned} undeclared text-like columns "
            f"(at most {columns.rows_per_column} sampled rows each)"
        )
        if with_values == 0:
            results.append(
                self.skipped(
                    facts,
                    (
                        "no undeclared text-like column could be sampled: nothing to judge"
                        if scanned == 0
                        else f"no value could be sampled in {scanned} undeclared text-like "
                        "columns: nothing to judge"
                    )
                    + (f" ({unread} tables not read, see above)" if unread else ""),
                    evidence=evidence,
                )
            )
        elif unread:
            # What was read is clean, but a least-privilege or RLS-filtered view of the
            # database is not a verdict on the tables it could not see.
            results.append(
                self.skipped(
                    facts,
                    f"{found}, but {unread} tables were not read: not a pass until they are",
                    evidence=evidence,
                )
            )
        else:
            results.append(self.passed(facts, found, evidence=evidence))
        return results


class KeyInCode(Check):
    id = "column.key_in_code"
    title = "No encryption key is written into database code or kept in the database"
    severity = Severity.CRITICAL
    rationale = (
        "A key in a function, view, default or trigger is readable by every role that can read "
        "the catalog and travels with every dump and backup, next to the data it protects."
    )
    remediation = (
        "Pass the key as a parameter from the application (which reads it from its secrets "
        "manager), as the design's encrypt_text(value, key) does; remove keys kept in "
        "settings (ALTER DATABASE/ROLE ... RESET name, postgresql.conf) or key tables; then "
        "rotate the exposed key."
    )
    requires = (CodeFacts,)
    reads = (ColumnFacts,)  # key tables: key material held in clear in a column
    facets = frozenset({"columns:undeclared"})

    def run(self, facts: Facts) -> list[Result]:
        code = facts.get(CodeFacts)
        results = [
            self.failed(
                facts,
                f"{use.location}: literal key passed to {use.call} ({use.via}): {use.snippet}",
                resource=use.location,
                evidence={
                    "kind": use.kind,
                    "call": use.call,
                    "via": use.via,
                    "snippet": use.snippet,
                },
            )
            for use in code.literal_keys
        ]
        for key in code.stored_keys:
            results.append(
                self.failed(
                    facts,
                    f"{key.kind} {key.location} holds a key ({key.why}, value {key.masked}): "
                    "every session can read it with current_setting()",
                    resource=key.location,
                    evidence=key.model_dump(mode="json"),
                )
            )
        key_stores = 0
        key_tables = facts.has(ColumnFacts) and "undeclared" in facts.get(ColumnFacts).parts
        if key_tables:
            for s in facts.get(ColumnFacts).samples:
                if not s.key_like or s.key_like < s.sampled / 2:
                    continue
                key_stores += 1
                results.append(
                    self.failed(
                        facts,
                        f"table column {s.name} stores keys: {s.key_like} of {s.sampled} "
                        "sampled values are key material in clear",
                        resource=s.name,
                        evidence={
                            "kind": "key table",
                            "key_like": s.key_like,
                            "sampled": s.sampled,
                            "sampling": s.method,
                        },
                    )
                )
        unread = [
            self.skipped(
                facts,
                f"keys in {item} were not inspected: {grant}",
                resource=item,
            )
            for item, grant in sorted(code.unavailable.items())
        ]
        if results:
            return results + unread
        inspected = (
            code.functions_scanned
            + code.views_scanned
            + code.defaults_scanned
            + code.triggers_scanned
        )
        if not inspected:
            skipped = self.skipped(
                facts, "nothing to judge: no function, view, column default or trigger"
            )
            return [skipped, *unread]
        evidence: dict[str, Any] = {"key_functions": code.key_functions, "stored_keys": 0}
        cut = ""
        if code.truncated:
            evidence["truncated"] = list(code.truncated)
            evidence["max_body_chars"] = code.max_body_chars
            cut = (
                f"; {len(code.truncated)} bodies longer than {code.max_body_chars} characters "
                f"were read only that far: {', '.join(code.truncated[:5])}"
            )
        tables = " or key tables" if key_tables else ""
        passed = self.passed(
            facts,
            f"no literal key in {code.functions_scanned} functions, "
            f"{code.views_scanned} views, {code.defaults_scanned} column defaults and "
            f"{code.triggers_scanned} triggers{cut}; no key in custom settings{tables}",
            evidence=evidence,
        )
        return [passed, *unread]


def _positive(value: str) -> bool:
    try:
        return float(value) > 0
    except ValueError:
        return True  # unreadable: judge it as logging rather than pass it


# log_min_error_statement levels that log the text of a failing statement (ERROR and below).
ERROR_STATEMENT_LEVELS = (
    "debug5",
    "debug4",
    "debug3",
    "debug2",
    "debug1",
    "info",
    "notice",
    "warning",
    "error",
)
LOG_SETTINGS = (
    "log_statement",
    "log_min_duration_statement",
    "log_min_duration_sample",
    "log_statement_sample_rate",
    "log_transaction_sample_rate",
    "log_parameter_max_length",
    "log_min_error_statement",
    "log_parameter_max_length_on_error",
    "auto_explain.log_min_duration",  # present only where auto_explain is loaded
    "pgaudit.log_parameter",
)


class KeyInLogs(Check):
    id = "column.key_in_logs"
    title = "Server logging does not write pgcrypto keys to the log"
    severity = Severity.MEDIUM
    rationale = (
        "A key reaches the server log in two ways: inside the statement text (a literal key, "
        "logged by log_statement, duration logging, auto_explain, or on error by "
        "log_min_error_statement) or as a bind parameter (logged with those statements unless "
        "log_parameter_max_length = 0, with errors unless log_parameter_max_length_on_error = "
        "0, and by pgaudit.log_parameter). Error logging itself must stay on (CIS PostgreSQL: "
        "log_min_error_statement = error)."
    )
    remediation = (
        "Send keys as bind parameters, never inside SQL text; keep log_min_error_statement = "
        "'error'; set log_parameter_max_length = 0 and log_parameter_max_length_on_error = 0; "
        "log_statement = 'ddl' (or 'none'), log_min_duration_statement = -1, "
        "log_min_duration_sample = -1, log_transaction_sample_rate = 0, "
        "auto_explain.log_min_duration = -1 and pgaudit.log_parameter = off; then purge old "
        "logs."
    )
    requires = (ServerFacts,)
    reads = (CodeFacts, ColumnFacts)  # whether pgcrypto is in use at all

    def run(self, facts: Facts) -> list[Result]:
        server = facts.get(ServerFacts)
        used = "pgcrypto" in server.extensions
        if facts.has(CodeFacts):
            used = used or facts.get(CodeFacts).pgcrypto_calls > 0
        if facts.has(ColumnFacts):
            used = used or any(s.openpgp for s in facts.get(ColumnFacts).samples)
        found = {n: server.setting(n) for n in LOG_SETTINGS}
        evidence: dict[str, Any] = {n: s.evidence() for n, s in found.items() if s is not None}
        if not used:
            # Nothing to leak, so nothing to judge: a skip, never a pass over nothing.
            return [
                self.skipped(
                    facts,
                    "pgcrypto is not used in this database: nothing to judge",
                    evidence=evidence,
                )
            ]

        def value(name: str, default: str) -> str:
            s = found[name]
            return s.value if s is not None else default

        def shown(name: str) -> str:
            s = found[name]
            return f"{name} = {s.value} ({s.where})" if s else f"{name} (not reported)"

        # Which settings log statements routinely (not only on error), with their text.
        routine: list[tuple[str, str]] = []
        if value("log_statement", "none") in ("all", "mod"):
            routine.append(("log_statement", "every encrypting statement is logged"))
        if value("log_min_duration_statement", "-1") != "-1":
            routine.append(
                ("log_min_duration_statement", "statements over the threshold are logged")
            )
        if value("log_min_duration_sample", "-1") != "-1" and _positive(
            value("log_statement_sample_rate", "1")
        ):
            routine.append(("log_min_duration_sample", "statements over the threshold are logged"))
        if _positive(value("log_transaction_sample_rate", "0")):
            routine.append(
                (
                    "log_transaction_sample_rate",
                    "every statement of a sampled transaction is logged",
                )
            )
        if value("auto_explain.log_min_duration", "-1") != "-1":
            routine.append(
                ("auto_explain.log_min_duration", "auto_explain logs slow statements' text")
            )
        params_routine = value("log_parameter_max_length", "-1") != "0"
        params_on_error = value("log_parameter_max_length_on_error", "0") != "0"
        error_text = value("log_min_error_statement", "error") in ERROR_STATEMENT_LEVELS

        problems: list[str] = []
        statement_text: list[str] = []
        bind_parameters: list[str] = []
        for name, why in routine:
            statement_text.append(name)
            text = f"{shown(name)}: {why} with its text (literal keys)"
            if params_routine:
                bind_parameters.append(name)
                text += " and its bind parameters (keys sent as parameters)"
            problems.append(text)
        if routine and params_routine:
            problems.append(
                f"{shown('log_parameter_max_length')}: bind parameters of logged statements "
                "are written (set it to 0)"
            )
        if params_on_error:
            bind_parameters.append("log_parameter_max_length_on_error")
            problems.append(
                f"{shown('log_parameter_max_length_on_error')}: a failed decrypt writes its bind "
                "parameters, keys included, to the log (set it to 0)"
            )
        if value("pgaudit.log_parameter", "off") == "on":
            bind_parameters.append("pgaudit.log_parameter")
            problems.append(
                f"{shown('pgaudit.log_parameter')}: pgaudit logs bind parameters, keys included"
            )
        if error_text:
            statement_text.append("log_min_error_statement")
        evidence["reaches_log"] = {
            "statement_text": statement_text,
            "bind_parameters": bind_parameters,
        }
        if problems:
            return [self.failed(facts, "; ".join(problems), evidence=evidence)]
        if error_text:
            message = (
                f"bind parameters never reach the log; {shown('log_min_error_statement')} "
                "logs the text of failing statements (as CIS recommends), so keys must be "
                "sent as bind parameters, never inside SQL text"
            )
        else:
            message = "no logging setting writes statement text or bind parameters with keys"
        evidence["assumes"] = "keys are sent as bind parameters"
        return [self.passed(facts, message, evidence=evidence)]


class CryptoFunctionPrivileges(Check):
    id = "column.crypto_function_privileges"
    title = "SECURITY DEFINER decrypt functions are not executable by PUBLIC"
    severity = Severity.MEDIUM
    rationale = (
        "A decrypting function that runs as its owner and that anyone may call turns every "
        "login into a reader of the encrypted columns."
    )
    remediation = (
        "REVOKE EXECUTE ON FUNCTION <function> FROM PUBLIC; GRANT EXECUTE ... TO the "
        "application role only (and consider SECURITY INVOKER)."
    )
    requires = (CodeFacts,)

    def run(self, facts: Facts) -> list[Result]:
        code = facts.get(CodeFacts)
        results = [
            self.failed(
                facts,
                f"{f.function} is SECURITY DEFINER (owner {f.owner}), decrypts, and "
                "PUBLIC may execute it",
                resource=f.function,
                evidence={
                    "owner": f.owner,
                    "executors": list(f.executors),
                    "security_definer": True,
                },
            )
            for f in code.decrypt_functions
            if f.security_definer and "PUBLIC" in f.executors
        ]
        if results:
            return results
        if not code.decrypt_functions:
            return [self.skipped(facts, "nothing to judge: no function decrypts with pgcrypto")]
        return [
            self.passed(
                facts,
                f"{len(code.decrypt_functions)} decrypting functions, none both SECURITY DEFINER "
                "and executable by PUBLIC",
                evidence={
                    "decrypt_functions": [f.model_dump(mode="json") for f in code.decrypt_functions]
                },
            )
        ]
