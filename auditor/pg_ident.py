"""PostgreSQL identifiers as PostgreSQL itself writes them, for resource names and
generated SQL, and the parser for the dotted names users write in the config
(`users.email`, `public."archive.customers".email`).

Quoting follows the server's `quote_ident()`: a name of lowercase ASCII letters, digits and
underscores that starts with a letter or underscore and is not a keyword (other than an
unreserved one) stays bare; anything else is double-quoted with `"` doubled. So
`public."archive.customers"` and `archive.customers` never collide, and every name is valid
SQL as written (schema `order` becomes `"order"`).
"""

from __future__ import annotations

import re

# pg_get_keywords() WHERE catcode <> 'U' on PostgreSQL 15: the keywords quote_ident() quotes.
# (tests compare this set with a live server's list and with its quote_ident()).
QUOTED_KEYWORDS = frozenset(
    {
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "between",
        "bigint",
        "binary",
        "bit",
        "boolean",
        "both",
        "case",
        "cast",
        "char",
        "character",
        "check",
        "coalesce",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "dec",
        "decimal",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "exists",
        "extract",
        "false",
        "fetch",
        "float",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "greatest",
        "group",
        "grouping",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "inout",
        "int",
        "integer",
        "intersect",
        "interval",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "least",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "national",
        "natural",
        "nchar",
        "none",
        "normalize",
        "not",
        "notnull",
        "null",
        "nullif",
        "numeric",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "out",
        "outer",
        "overlaps",
        "overlay",
        "placing",
        "position",
        "precision",
        "primary",
        "real",
        "references",
        "returning",
        "right",
        "row",
        "select",
        "session_user",
        "setof",
        "similar",
        "smallint",
        "some",
        "substring",
        "symmetric",
        "table",
        "tablesample",
        "then",
        "time",
        "timestamp",
        "to",
        "trailing",
        "treat",
        "trim",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "values",
        "varchar",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
        "xmlattributes",
        "xmlconcat",
        "xmlelement",
        "xmlexists",
        "xmlforest",
        "xmlnamespaces",
        "xmlparse",
        "xmlpi",
        "xmlroot",
        "xmlserialize",
        "xmltable",
    }
)
_BARE = re.compile(r"[a-z_][a-z0-9_]*")


class IdentError(ValueError):
    """A dotted name that is not valid (empty part, unterminated quote)."""


def quote_ident(name: str) -> str:
    """`name` as PostgreSQL's quote_ident() writes it."""
    if _BARE.fullmatch(name) and name not in QUOTED_KEYWORDS:
        return name
    return '"' + name.replace('"', '""') + '"'


def quote_literal(text: str) -> str:
    """A string literal as PostgreSQL's quote_literal() writes it: with a backslash in it,
    the E'' form with backslashes doubled, so standard_conforming_strings cannot change it."""
    body = text.replace("'", "''")
    if "\\" in text:
        return "E'" + body.replace("\\", "\\\\") + "'"
    return "'" + body + "'"


_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def sql_ident(name: str) -> str:
    """An identifier for generated SQL that a person reviews and psql runs: as quote_ident()
    writes it, except that a name holding a line break or other control character is
    written in the `U&"..."` form with `\\XXXX` escapes, so each statement stays on its
    line and no part of a name can start a psql `\\` command."""
    if not _CONTROL.search(name):
        return quote_ident(name)
    body = "".join(
        f"\\{ord(c):04x}" if _CONTROL.match(c) else "\\\\" if c == "\\" else c
        for c in name.replace('"', '""')
    )
    return f'U&"{body}"'


def sql_literal(text: str) -> str:
    """A string literal for generated SQL: quote_literal(), with control characters as
    `E'\\uXXXX'` escapes so the literal stays on one line."""
    if not _CONTROL.search(text):
        return quote_literal(text)
    body = "".join(
        f"\\u{ord(c):04x}" if _CONTROL.match(c) else "\\\\" if c == "\\" else c
        for c in text.replace("'", "''")
    )
    return f"E'{body}'"


def sql_qualified(*parts: str) -> str:
    return ".".join(sql_ident(p) for p in parts)


def qualified(*parts: str) -> str:
    """Dotted, each part quoted: qualified("public", "archive.customers") is
    `public."archive.customers"`."""
    return ".".join(quote_ident(p) for p in parts)


def relation_name(schema: str, table: str, *rest: str) -> str:
    """A table (or column, with `rest`) as resources name it: schema-qualified except in
    `public`, each part quoted as PostgreSQL would."""
    parts = (table, *rest) if schema == "public" else (schema, table, *rest)
    return qualified(*parts)


def split_name(spec: str) -> tuple[str, ...]:
    """The parts of a dotted name. A part in double quotes is taken exactly (`""` is one
    quote, dots and capitals are part of the name); a bare part is taken as written, so
    `Users.email` keeps naming the table "Users" as it always has."""
    parts: list[str] = []
    i, n = 0, len(spec)
    while True:
        if i < n and spec[i] == '"':
            buf: list[str] = []
            i += 1
            while True:
                if i >= n:
                    raise IdentError(f"{spec!r}: unterminated double quote")
                if spec[i] == '"':
                    if i + 1 < n and spec[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(spec[i])
                i += 1
            part = "".join(buf)
        else:
            end = i
            while end < n and spec[end] not in '."':
                end += 1
            part = spec[i:end]
            i = end
            if i < n and spec[i] == '"':
                raise IdentError(f"{spec!r}: a double quote inside an unquoted name")
        if not part:
            raise IdentError(f"{spec!r}: empty name part")
        parts.append(part)
        if i >= n:
            return tuple(parts)
        if spec[i] != ".":
            raise IdentError(f"{spec!r}: expected a dot after a quoted name")
        i += 1
        if i >= n:
            raise IdentError(f"{spec!r}: empty name part")


def column_spec(spec: str) -> tuple[str, str, str]:
    """`table.column` (schema public) or `schema.table.column` -> (schema, table, column)."""
    parts = split_name(spec)
    if len(parts) == 2:
        return ("public", parts[0], parts[1])
    if len(parts) == 3:
        return (parts[0], parts[1], parts[2])
    raise IdentError(f"{spec!r} is not table.column or schema.table.column")
