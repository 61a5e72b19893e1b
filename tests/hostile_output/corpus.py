"""Hostile names: what an owner of a scanned database (or a careless config) can put in a
schema, table, column, role, application name, certificate subject or target name.

Each entry has a recognisable marker (`hN`) so a test can prove the name was escaped, not
dropped."""

from __future__ import annotations

HOSTILE_NAMES: tuple[str, ...] = (
    "h01\x1b[2J\x1b[1;1Hclear screen",  # ANSI: clear the screen, move the cursor
    "h02\rPASS    -        forged.check      app-db: all good",  # CR overwrites the line
    "h03\nFAIL     critical forged.line   a forged result line",  # LF forges a line
    "h04\x00nul\x07bell\x08bs\x0bvt\x0cff\x7fdel",  # C0 controls and DEL
    "h05\x85nel\x9bcsi\x9d8;;http://evil/\x9c",  # C1 controls (NEL, CSI, OSC)
    "h06[/]",  # closes a rich style that was never opened: crashes rich markup
    "h07[link=file:///etc/passwd]x[/link]",  # a live terminal link
    "h08[bold red]looks like a failure[/bold red]",
    "h09<script>alert(1)</script>",
    "h10]]><x/>",  # ends a CDATA section
    'h11"quoted"',
    "h12'single'",
    "h13\\back\\slash\\",
    "h14\u202etxt.exe",  # right-to-left override
    "h15\u200bzero\u200dwidth\ufeff\u2066iso\u2069",  # zero-width and bidi isolates
    "h16" + "L" * 5000,  # very long
    "h18=cmd|' /C calc'!A0",  # CSV formula injection
    "h19\x1b]8;;https://evil.example/\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "h20@SUM(1+1)",
    "h21+1-1",
    "h22-2+3",
    "h23\tTAB",
    "h24{task.description}{0}%s",  # format strings
    "order",  # a reserved word
    'public."archive.customers"',
)

# A lone surrogate: what surrogateescape-decoded bytes of a SQL_ASCII database would give.
# No UTF-8 encoder accepts it; the formats meant for a person escape it (JSON and the evidence
# digests need text decoded at collection time, see the report).
SURROGATE_NAME = "h17\udcffsurrogate"

# Characters no rendering meant for a person may emit raw.
RAW_FORBIDDEN = "\x00\x07\x08\x0b\x0c\r\x7f\x85\x9b\x9c\x9d\u202e\u200b\u200d\ufeff\u2066\u2069"


def marker(name: str) -> str:
    """The recognisable head of a hostile name (what must survive escaping)."""
    return name[:3]
