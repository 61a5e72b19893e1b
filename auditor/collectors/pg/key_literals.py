"""Finds keys written into SQL: calls to pgcrypto (or to wrappers around it) whose key
argument is a literal, in function bodies, view definitions, column defaults and triggers.

A small lexer understands PostgreSQL quoting (`'...'`, `E'...'`, `$tag$...$tag$`, `"..."`,
comments), so a call is split into its real arguments: the key is the second argument of
`pgp_sym_encrypt(data, key, options)`, and the third, the options string
(`'cipher-algo=aes256'`), is not a key. Wrappers are learnt from the bodies: a function that
passes its own parameter n into a key position takes a key as parameter n.

Findings carry a redacted snippet: every string literal except an options string becomes
`'***'`, so neither the key nor a literal datum is ever repeated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

# Function name -> 0-based index of its key argument.
PGCRYPTO_KEY_ARGS = {
    "pgp_sym_encrypt": 1,
    "pgp_sym_decrypt": 1,
    "pgp_sym_encrypt_bytea": 1,
    "pgp_sym_decrypt_bytea": 1,
    "encrypt": 1,
    "decrypt": 1,
    "encrypt_iv": 1,
    "decrypt_iv": 1,
}
# Argument index of the options string of the pgp_* functions (shown in clear).
OPTIONS_ARG = 2
# The reference design's wrappers: (plaintext or ciphertext, key).
DESIGN_WRAPPERS = {"encrypt_text": 1, "decrypt_text": 1}
DECRYPT_FUNCTIONS = frozenset({"pgp_sym_decrypt", "pgp_sym_decrypt_bytea", "decrypt", "decrypt_iv"})
SNIPPET_CHARS = 160
# Functions that turn constants into constants (a key spelt through them is still literal).
CONSTANT_FUNCTIONS = frozenset(
    {
        "convert_to",
        "convert_from",
        "decode",
        "encode",
        "concat",
        "lower",
        "upper",
        "btrim",
        "trim",
        "text",
        "bytea",
        "md5",
        "sha256",
        "digest",
        "replace",
        "substr",
        "substring",
        "format",
        "cast",
        "concat_ws",
        "ltrim",
        "rtrim",
        "overlay",
        "repeat",
    }
)

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>--[^\n]*)
  | (?P<block>/\*)
  | (?P<estr>[eE]'(?:[^'\\]|\\.|'')*'?)
  | (?P<str>'(?:[^']|'')*'?)
  | (?P<param>\$\d+)
  | (?P<dollar>\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$)
  | (?P<qident>"(?:[^"]|"")*"?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_$]*)
  | (?P<num>\d+(?:\.\d+)?)
  | (?P<op>::|:=|\|\||[(),.\[\];=])
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


class Token(NamedTuple):  # a tuple: cheap to create by the hundred thousand
    kind: str  # str | param | qident | ident | num | op | other
    text: str

    @property
    def word(self) -> str:
        if self.kind == "ident":
            return self.text.lower()
        if self.kind == "qident":
            return self.text[1:-1].replace('""', '"')
        return self.text


def tokens(source: str) -> list[Token]:
    out: list[Token] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:  # pragma: no cover - the pattern matches any character
            break
        kind = m.lastgroup or "other"
        if kind == "block":
            end = _block_comment_end(source, m.end())
            pos = end
            continue
        if kind == "dollar":
            tag = m.group()
            end = source.find(tag, m.end())
            end = len(source) if end < 0 else end + len(tag)
            out.append(Token("str", source[m.start() : end]))
            pos = end
            continue
        if kind == "estr":
            kind = "str"
        if kind not in ("ws", "comment"):
            out.append(Token(kind, m.group()))
        pos = m.end()
    return out


def _block_comment_end(source: str, pos: int) -> int:
    depth = 1  # PostgreSQL block comments nest
    while depth and pos < len(source):
        if source.startswith("/*", pos):
            depth += 1
            pos += 2
        elif source.startswith("*/", pos):
            depth -= 1
            pos += 2
        else:
            pos += 1
    return pos


@dataclass(frozen=True, eq=False)
class Call:
    """A call: its name and where each argument lies among the tokens (an argument is copied
    out only when asked for, so that nested calls are not copied once per level)."""

    name: str  # the called function, lower case, without schema
    toks: list[Token]
    bounds: tuple[tuple[int, int], ...]

    @property
    def nargs(self) -> int:
        return len(self.bounds)

    def arg(self, n: int) -> tuple[Token, ...]:
        start, end = self.bounds[n]
        return _arg(self.toks, start, end)

    @property
    def args(self) -> tuple[tuple[Token, ...], ...]:
        return tuple(self.arg(n) for n in range(self.nargs))


# An argument longer than this is kept only up to here, followed by TRUNCATED: a literal key
# is a short expression, and copying every nested argument in full would make nested calls
# cost the square of the body's size.
MAX_ARG_TOKENS = 256
TRUNCATED = Token("truncated", "…")

Source = str | list[Token]


def _toks(source: Source) -> list[Token]:
    return tokens(source) if isinstance(source, str) else source


def _matching(toks: list[Token]) -> list[int]:
    """For each `(` or `[`, the index of its closing bracket (len(toks) when unclosed)."""
    match = [-1] * len(toks)
    stack: list[int] = []
    for i, t in enumerate(toks):
        if t.kind != "op":
            continue
        if t.text in ("(", "["):
            stack.append(i)
        elif t.text in (")", "]") and stack:
            match[stack.pop()] = i
    for i in stack:
        match[i] = len(toks)
    return match


def _arg(toks: list[Token], start: int, end: int) -> tuple[Token, ...]:
    if end - start <= MAX_ARG_TOKENS:
        return tuple(toks[start:end])
    return (*toks[start : start + MAX_ARG_TOKENS], TRUNCATED)


def calls(source: Source, names: set[str] | frozenset[str]) -> list[Call]:
    """Every call of one of `names` (schema-qualified or not), with its split arguments.

    Linear in the number of tokens: brackets are matched once, and splitting a call's
    arguments jumps over nested brackets instead of walking them again.
    """
    toks = _toks(source)
    match = _matching(toks)
    found: list[Call] = []
    for i in range(len(toks) - 1):
        tok = toks[i]
        if tok.kind not in ("ident", "qident") or tok.word.lower() not in names:
            continue
        if toks[i + 1].text != "(":
            continue
        end = match[i + 1]
        bounds: list[tuple[int, int]] = []
        first = j = i + 2
        while j < end:
            t = toks[j]
            if t.kind == "op" and t.text in ("(", "["):
                j = match[j] + 1
                continue
            if t.kind == "op" and t.text == ",":
                bounds.append((first, j))
                first = j + 1
            j += 1
        if first < end or bounds:
            bounds.append((first, min(end, len(toks))))
        found.append(Call(tok.word.lower(), toks, tuple(bounds)))
    return found


def is_literal(arg: tuple[Token, ...]) -> bool:
    """A constant expression made of string literals: 'k', 'k'::text, 'a' || 'b',
    convert_to('k', 'utf8'), decode('...', 'hex'), CAST('k' AS text), text 'k',
    (SELECT 'k'), format('%s', 'k'). Parameters, columns and lookups such as
    current_setting('app.key') are not."""
    if not any(t.kind == "str" for t in arg) or TRUNCATED in arg:
        return False
    i = 0
    while i < len(arg):
        t = arg[i]
        if t.text == "::":
            i += 2  # the cast's type name
            while i < len(arg) and (arg[i].text in ("(", ")", "[", "]") or arg[i].kind == "num"):
                i += 1
            continue
        if t.kind in ("ident", "qident"):
            word = t.word.lower()
            nxt = arg[i + 1] if i + 1 < len(arg) else None
            if nxt is not None and nxt.text == ".":
                i += 2  # a schema qualifier: the name after it decides
                continue
            # A conversion applied to literals (convert_to, decode, format, CAST...) stays
            # constant; a lookup such as current_setting('app.key') does not put the key in
            # the code.
            if nxt is not None and nxt.text == "(" and word in CONSTANT_FUNCTIONS:
                i += 1
                continue
            if word == "select" and t.kind == "ident":  # (SELECT 'k')
                i += 1
                continue
            if word == "as" and t.kind == "ident":  # CAST('k' AS character varying(64))
                i += 1
                while i < len(arg) and arg[i].kind in ("ident", "qident"):
                    i += 1
                continue
            if nxt is not None and nxt.kind == "str":  # a typed literal: text 'k'
                i += 1
                continue
            return False
        if t.kind == "param":
            return False
        i += 1
    return True


def single_name(arg: tuple[Token, ...]) -> str | None:
    """The variable or parameter an argument is (ignoring casts), if it is just one."""
    if (
        arg
        and arg[0].kind in ("ident", "qident", "param")
        and (len(arg) == 1 or (len(arg) >= 3 and arg[1].text == "::"))
    ):
        return arg[0].word.lower() if arg[0].kind != "param" else arg[0].text
    return None


def tg_argv_index(arg: tuple[Token, ...]) -> int | None:
    """n when the argument is TG_ARGV[n] (a trigger passes its CREATE TRIGGER arguments)."""
    words = [t.text for t in arg]
    if len(words) >= 4 and words[0].lower() == "tg_argv" and words[1] == "[" and words[3] == "]":
        return int(words[2]) if words[2].isdigit() else None
    return None


DECLARATION_TOKENS = 16


def constant_variables(toks: list[Token]) -> set[str]:
    """PL/pgSQL variables assigned a string literal: `k text := 'x';`, `k CONSTANT text =
    'x'`, `k text DEFAULT 'x'`, `k := 'x'`."""
    found: set[str] = set()
    for i, tok in enumerate(toks):
        if tok.text not in (":=", "=") and tok.word.lower() != "default":
            continue
        value = toks[i + 1 : i + 4]
        if not value or value[0].kind != "str":
            continue
        if len(value) > 1 and value[1].text not in (";", "::"):
            continue
        # Walk back over the declaration's type to the variable name (a few tokens at
        # most: a long walk means this `=` is a comparison inside a statement).
        j = i - 1
        while (
            j >= max(0, i - DECLARATION_TOKENS)
            and toks[j].text not in (";", "declare")
            and toks[j].word.lower() not in ("declare", "begin", "then", "else", "loop")
        ):
            j -= 1
        if j < max(0, i - DECLARATION_TOKENS):
            continue
        name_tok = toks[j + 1] if j + 1 < i else None
        if name_tok is not None and name_tok.kind in ("ident", "qident"):
            found.add(name_tok.word.lower())
    return found


# A pgcrypto options string: `cipher-algo=aes256, s2k-mode=3`, nothing else.
_PAIR = r"\s*[a-z0-9-]+\s*=\s*[a-z0-9-]+\s*"
_OPTIONS = re.compile(rf"^'{_PAIR}(?:,{_PAIR})*'$")


def shows_options(call: Call, n: int, key_index: int, literal: Token) -> bool:
    """Whether argument n's literal is pgcrypto's own options string, shown in clear.

    Only pgcrypto's pgp_* functions have one, at OPTIONS_ARG; a wrapper that happens to be
    named pgp_* may take its key there, so the position must not be the key's and the literal
    must read as `name=value` pairs."""
    return (
        call.name in PGCRYPTO_KEY_ARGS
        and call.name.startswith("pgp_")
        and n == OPTIONS_ARG
        and n != key_index
        and bool(_OPTIONS.match(literal.text))
    )


def redacted(call: Call, key_index: int) -> str:
    """The call with every literal except a pgcrypto options string replaced by '***'."""
    parts = []
    length = len(call.name) + 2
    for n, arg in enumerate(call.args):
        rendered = []
        for t in arg:
            if t.kind == "str" and not shows_options(call, n, key_index, t):
                rendered.append("'***'")
            else:
                rendered.append(t.text)
        parts.append(_join(rendered))
        length += len(parts[-1]) + 2
        if length > SNIPPET_CHARS:
            break  # the rest would be cut anyway
    text = f"{call.name}({', '.join(parts)})"
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


def _join(words: list[str]) -> str:
    out = ""
    for w in words:
        tight = w in ("::", ")", "]", ".", "[", "(", ",") or out.endswith(("::", "(", "[", "."))
        if out and not tight:
            out += " "
        out += w
    return out


@dataclass(frozen=True)
class KeyFinding:
    call: str
    via: str  # "literal", "constant variable <name>"
    snippet: str


def literal_keys(
    source: Source, key_args: dict[str, int], params: tuple[str, ...] = ()
) -> list[KeyFinding]:
    """Calls in `source` to functions of `key_args` whose key argument is a constant."""
    toks = _toks(source)
    constants = constant_variables(toks) - {p.lower() for p in params}
    out: list[KeyFinding] = []
    for call in calls(toks, set(key_args)):
        index = key_args[call.name]
        if index >= call.nargs:
            continue
        arg = call.arg(index)
        if is_literal(arg):
            out.append(KeyFinding(call.name, "literal", redacted(call, index)))
            continue
        name = single_name(arg)
        if name is not None and name in constants:
            out.append(KeyFinding(call.name, f"constant variable {name}", redacted(call, index)))
    return out


def key_parameters(source: Source, key_args: dict[str, int], params: tuple[str, ...]) -> set[int]:
    """0-based positions of this function's parameters that reach a key argument: the
    function is then a wrapper taking a key there."""
    lowered = [p.lower() for p in params]
    found: set[int] = set()
    for call in calls(source, set(key_args)):
        index = key_args[call.name]
        if index >= call.nargs:
            continue
        name = single_name(call.arg(index))
        if name is None:
            continue
        if name.startswith("$") and name[1:].isdigit():
            found.add(int(name[1:]) - 1)
        elif name in lowered:
            found.add(lowered.index(name))
    return found


def trigger_key_arguments(source: Source, key_args: dict[str, int]) -> set[int]:
    """TG_ARGV positions a trigger function passes as a key."""
    found: set[int] = set()
    for call in calls(source, set(key_args)):
        index = key_args[call.name]
        if index < call.nargs:
            n = tg_argv_index(call.arg(index))
            if n is not None:
                found.add(n)
    return found


def calls_any(source: Source, names: set[str] | frozenset[str]) -> bool:
    return bool(calls(source, names))


def literal_defaults(arguments: str) -> set[int]:
    """0-based positions of input parameters whose DEFAULT is a constant, from
    pg_get_function_arguments() text such as `data text, key text DEFAULT 'k'::text`."""
    found: set[int] = set()
    position = 0
    for arg in _split_top_level(tokens(arguments)):
        if arg and arg[0].word.lower() == "out":
            continue  # OUT parameters are not inputs
        for i, tok in enumerate(arg):
            if tok.word.lower() == "default" or tok.text == "=":
                if is_literal(arg[i + 1 :]):
                    found.add(position)
                break
        position += 1
    return found


def _split_top_level(toks: list[Token]) -> list[tuple[Token, ...]]:
    parts: list[tuple[Token, ...]] = []
    current: list[Token] = []
    depth = 0
    for t in toks:
        if t.text in ("(", "["):
            depth += 1
        elif t.text in (")", "]"):
            depth -= 1
        elif t.text == "," and depth == 0:
            parts.append(tuple(current))
            current = []
            continue
        current.append(t)
    if current:
        parts.append(tuple(current))
    return parts
