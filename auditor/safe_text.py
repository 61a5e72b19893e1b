"""One sanitising layer for text that came from a scanned system (names of schemas, tables,
columns and roles, application names, certificate subjects, target names, error messages).

Such text is data, never markup or control: an owner who names a table
`x\\x1b[2J` or `[link=file:///etc/passwd]x[/link]` must not clear the operator's screen,
forge a result line, plant a live link or crash the renderer. Each output format gets one
function here, and every formatter calls it instead of rolling its own:

* `display_text` - terminal: control characters, invisible format characters
  (bidi overrides, zero-width) and lone surrogates become visible escapes (`\\x1b`, `\\n`,
  `\\u202e`), so the name stays recognisable and takes one line. `display_block` is the
  same for HTML and PDF, keeping line breaks (which cannot forge anything in a paragraph);
  `display_line` escapes them too, for a value inside a block of lines.
* `xml_text` - JUnit XML: what XML 1.0 forbids becomes the same visible escape; the
  rest is left to the XML serialiser's own escaping (`<`, `&`, `"`).
* `csv_cell` - CSV: `display_block`, and a cell a spreadsheet would run as a formula gets a
  leading quote.
* `sql_comment` - generated SQL: a single-line `--` comment (no newline can start a psql
  `\\!` line).
* `psql_argument` - generated psql scripts: a meta-command argument psql reads literally
  (no backquote shell execution, no `:variable` interpolation, no line break).

Rich markup is neither parsed nor escaped here: the terminal formatter hands rich `Text`
objects, which rich never interprets as markup.
"""

from __future__ import annotations

import re

# C0 controls, DEL, C1 controls; invisible format characters that reorder or hide text
# (Unicode category Cf: bidi embeddings/overrides/isolates, zero-width space/joiners, BOM,
# soft hyphen, tag characters); line/paragraph separators; lone surrogates (reachable through
# surrogateescape-decoded bytes), which no UTF-8 encoder accepts.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2069"
    "\ufeff\ufff9-\ufffb\ud800-\udfff\U000e0000-\U000e007f]"
)
# XML 1.0 Char production: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-].
# Tab, LF and CR are legal but an attribute normalises them away, so they are escaped too.
_XML_FORBIDDEN = re.compile("[\x00-\x1f\ud800-\udfff\ufffe\uffff]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\x1b": "\\x1b", "\x00": "\\x00"}
# Spreadsheet programs run a cell starting with these as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")

MAX_DISPLAY_CHARS = 2000


def _escape(char: str) -> str:
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def _escape_match(match: re.Match[str]) -> str:
    return _escape(match.group(0))


def display_text(text: str, limit: int = MAX_DISPLAY_CHARS) -> str:
    """Text safe to show a person: one line, no control or invisible characters (each shown
    as a visible escape), at most `limit` characters (longer text ends in `…`)."""
    safe = display_line(text)
    if len(safe) > limit:
        safe = safe[: limit - 1] + "…"
    return safe


def display_block(text: str) -> str:
    """Like `display_text`, but keeps line breaks and tabs (HTML/PDF text, where a line
    break cannot forge anything and our own blocks need them); no length limit."""
    return "\n".join(
        "\t".join(_UNSAFE.sub(_escape_match, cell) for cell in line.split("\t"))
        for line in text.split("\n")
    )


def display_line(text: str) -> str:
    """Like `display_block`, but line breaks and tabs become visible escapes too, with no
    length limit: a value printed inside a block of lines (the PDF's per-target detail and
    inventory), where a line break in the value would start a line that reads like another
    finding or target."""
    return _UNSAFE.sub(_escape_match, text)


def is_display_safe(text: str) -> bool:
    return _UNSAFE.search(text) is None


def xml_text(text: str) -> str:
    """Text an XML 1.0 document can hold, in an element or an attribute alike."""
    return _XML_FORBIDDEN.sub(_escape_match, text)


def xml_multiline(text: str) -> str:
    """Element text that keeps its own line breaks (lines we joined), other controls escaped."""
    return "\n".join(xml_text(line) for line in text.split("\n"))


def csv_cell(text: str) -> str:
    """A cell a spreadsheet shows as text, never evaluates (formula prefixes get a quote)."""
    # CSV also goes to a terminal (`--format csv` without -o): no escape sequence, carriage
    # return or bidi override survives; line breaks and tabs do (the cell is quoted).
    text = display_block(text)
    stripped = text.lstrip(" ")
    return "'" + text if stripped[:1] in _FORMULA_START else text


def sql_comment(text: str) -> str:
    """A `-- ...` comment line for generated SQL: whatever `text` holds, it cannot end the
    comment (no line break, no control character), so no SQL or psql command follows."""
    return "-- " + display_text(text)


_PSQL_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def psql_argument(text: str) -> str:
    """A psql meta-command argument (e.g. for `\\connect`) that psql takes literally.

    Single quotes are psql's literal form: inside them backquotes (shell commands) and
    `:name` (variables) are not expanded, and backslash escapes (`\\\\`, `\\'`, `\\x0a`) are
    decoded, so every character, a line break included, survives on one line."""
    if _PSQL_BARE.fullmatch(text):
        return text
    out = []
    for char in text:
        if char in ("\\", "'"):
            out.append("\\" + char)
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\x{ord(char):02x}")
        else:
            out.append(char)
    return "'" + "".join(out) + "'"
