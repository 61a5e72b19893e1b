"""pg_hba.conf tokenizer: lines, continuations, quoting, comments, `@file` lists and the
`include`, `include_if_exists` and `include_dir` directives, ported from PostgreSQL's own
`next_token` / `tokenize_auth_file` so that odd spellings mean here what they mean to the server.

The result is a list of records (file, line, fields of tokens) or per-line errors; nothing in
here raises for bad input.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

MAX_TOKEN = 10240  # PostgreSQL's MAX_TOKEN: longer tokens make the line invalid
MAX_DEPTH = 10  # CONF_FILE_MAX_DEPTH: nesting of include / @file
MAX_FILE_BYTES = 16 * 1024 * 1024  # a gentle scanner refuses absurd files
_BLANK = " \t\r\n\f\v"

Reader = Callable[[Path], str]


class ReadFailed(Exception):
    """A file could not be read; the message is one line (reason only, no content)."""


def read_file(path: Path) -> str:
    """Default reader: bytes decoded leniently (the server reads bytes too), size-capped."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ReadFailed(f"file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise ReadFailed(exc.strerror or type(exc).__name__) from None
    return data.decode("utf-8", errors="replace")


@dataclass(frozen=True)
class Token:
    value: str
    quoted: bool


@dataclass
class Record:
    """One logical line: its fields (each a comma list of tokens), or the reason it is bad."""

    file: str
    line: int
    fields: list[list[Token]] = field(default_factory=list)
    error: str | None = None


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first physical line number, text) with backslash continuations joined."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.split("\n"), 1):
        raw = raw.split("\0", 1)[0].rstrip("\r\n")
        if not pending:
            start = number
        if raw.endswith("\\"):
            pending.append(raw[:-1])
            continue
        pending.append(raw)
        out.append((start, "".join(pending)))
        pending = []
    if pending:
        out.append((start, "".join(pending)))
    return out


class _Cursor:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def at_end(self) -> bool:
        return self.pos >= len(self.text)


def _next_token(cur: _Cursor) -> tuple[Token | None, bool, str | None]:
    """(token or None when empty, followed by a comma, error) — PostgreSQL's next_token."""
    text, n = cur.text, len(cur.text)
    while cur.pos < n and (text[cur.pos] in _BLANK or text[cur.pos] == ","):
        cur.pos += 1
    buf: list[str] = []
    in_quote = was_quote = saw_quote = comma = False
    while cur.pos < n:
        c = text[cur.pos]
        if c in _BLANK and not in_quote:
            break
        if c == "#" and not in_quote:
            cur.pos = n  # a comment runs to the end of the line
            break
        if len(buf) >= MAX_TOKEN:
            cur.pos = n
            return None, False, "authentication file token too long"
        if c == "," and not in_quote:
            comma = True
            break
        if c != '"' or was_quote:
            buf.append(c)
        # A literal double quote is written as two double quotes inside quotes.
        was_quote = (not was_quote) if (in_quote and c == '"') else False
        if c == '"':
            in_quote = not in_quote
            saw_quote = True
        cur.pos += 1
    if not buf and not saw_quote:
        return None, comma, None
    return Token("".join(buf), saw_quote), comma, None


class Tokenizer:
    """Reads a pg_hba file and everything it pulls in, producing records in server order."""

    def __init__(self, reader: Reader = read_file) -> None:
        self.reader = reader

    def tokenize_file(self, path: Path) -> list[Record]:
        """Records of the top-level file; raises ReadFailed when it cannot be read at all."""
        return self.tokenize_text(self.reader(path), path)

    def tokenize_text(self, text: str, path: Path, depth: int = 0) -> list[Record]:
        records: list[Record] = []
        for number, line in _logical_lines(text):
            record = Record(str(path), number)
            cur = _Cursor(line)
            while not cur.at_end() and record.error is None:
                found = self._next_field(cur, path, depth, record)
                if found:
                    record.fields.append(found)
            if record.error is not None:
                record.fields = []
                records.append(record)
            elif record.fields:
                records.extend(self._directive(record, path, depth))
        return records

    def _next_field(self, cur: _Cursor, path: Path, depth: int, record: Record) -> list[Token]:
        tokens: list[Token] = []
        while True:
            token, comma, error = _next_token(cur)
            if error is not None:
                record.error = error
                return tokens
            if token is None:
                break
            if not token.quoted and token.value.startswith("@") and len(token.value) > 1:
                tokens.extend(self._expand_at_file(token.value[1:], path, depth, record))
                if record.error is not None:
                    return tokens
            else:
                tokens.append(token)
            if not comma:
                break
        return tokens

    def _expand_at_file(self, name: str, path: Path, depth: int, record: Record) -> list[Token]:
        target = _relative_to(path, name)
        if depth + 1 > MAX_DEPTH:
            record.error = f'could not open file "{target}": maximum nesting depth exceeded'
            return []
        try:
            text = self.reader(target)
        except ReadFailed as exc:
            record.error = (
                f'could not open secondary authentication file "@{name}" as "{target}": {exc}'
            )
            return []
        tokens: list[Token] = []
        for inner in self.tokenize_text(text, target, depth + 1):
            if inner.error is not None:
                record.error = inner.error
                return []
            for fld in inner.fields:
                tokens.extend(fld)
        return tokens

    # -- include directives (PostgreSQL 16+) -----------------------------------------------

    def _directive(self, record: Record, path: Path, depth: int) -> list[Record]:
        first = record.fields[0]
        keyword = first[0].value if len(first) == 1 and not first[0].quoted else ""
        if keyword not in ("include", "include_if_exists", "include_dir"):
            return [record]
        if len(record.fields) != 2 or len(record.fields[1]) != 1:
            record.fields = []
            record.error = f'invalid syntax: "{keyword}" takes exactly one file name'
            return [record]
        target = _relative_to(path, record.fields[1][0].value)
        if depth + 1 > MAX_DEPTH:
            return [
                Record(
                    record.file,
                    record.line,
                    error=f'could not open file "{target}": maximum nesting depth exceeded',
                )
            ]
        if keyword == "include_dir":
            return self._include_dir(record, target, depth)
        return self._include_file(record, target, depth, keyword == "include_if_exists")

    def _include_file(
        self, record: Record, target: Path, depth: int, if_exists: bool = False
    ) -> list[Record]:
        try:
            text = self.reader(target)
        except ReadFailed as exc:
            if if_exists and not target.exists():
                return []  # the server only logs "skipping missing authentication file"
            return [
                Record(record.file, record.line, error=f'could not open file "{target}": {exc}')
            ]
        return self.tokenize_text(text, target, depth + 1)

    def _include_dir(self, record: Record, folder: Path, depth: int) -> list[Record]:
        try:
            names = sorted(
                (n for n in os.listdir(folder) if n.endswith(".conf") and not n.startswith(".")),
                key=lambda n: n.encode("utf-8", "surrogateescape"),  # C-locale (strcmp) order
            )
        except OSError as exc:
            return [
                Record(
                    record.file,
                    record.line,
                    error=f'could not open directory "{folder}": {exc.strerror}',
                )
            ]
        out: list[Record] = []
        for name in names:
            if (folder / name).is_dir():
                continue
            out.extend(self._include_file(record, folder / name, depth))
        return out


def _relative_to(including: Path, name: str) -> Path:
    """Relative names are relative to the folder of the file that mentions them."""
    target = Path(name)
    return target if target.is_absolute() else including.parent / target
