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


@dataclass(frozen=True)
class Token:
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


@dataclass(frozen=True)
class Call:
    name: str  # the called function, lower case, without schema
    args: tuple[tuple[Token, ...], ...]


def calls(toks: list[Token], names: set[str] | frozenset[str]) -> list[Call]:
    """Every call of one of `names` (schema-qualified or not), with its split arguments."""
    found: list[Call] = []
    for i, tok in enumerate(toks[:-1]):
        if tok.kind not in ("ident", "qident") or tok.word.lower() not in names:
            continue
        if toks[i + 1].text != "(":
            continue
        args: list[tuple[Token, ...]] = []
        current: list[Token] = []
        depth = 0
        for t in toks[i + 2 :]:
            if t.text in ("(", "["):
                depth += 1
            elif t.text in (")", "]"):
                if depth == 0:
                    break
                depth -= 1
            elif t.text == "," and depth == 0:
                args.append(tuple(current))
                current = []
                continue
            current.append(t)
        if current or args:
            args.append(tuple(current))
        found.append(Call(tok.word.lower(), tuple(args)))
    return found


def is_literal(arg: tuple[Token, ...]) -> bool:
    """A constant expression made of string literals: 'k', 'k'::text, 'a' || 'b',
    convert_to('k', 'utf8'), decode('...', 'hex'). Parameters, columns and lookups such as
    current_setting('app.key') are not."""
    if not any(t.kind == "str" for t in arg):
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
            # A conversion applied to literals (convert_to, decode...) stays constant; a
            # lookup such as current_setting('app.key') does not put the key in the code.
            if (
                t.word.lower() in CONSTANT_FUNCTIONS
                and i + 1 < len(arg)
                and (arg[i + 1].text == "(")
            ):
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
        # Walk back over the declaration's type to the variable name.
        j = i - 1
        while (
            j >= 0
            and toks[j].text not in (";", "declare")
            and toks[j].word.lower() not in ("declare", "begin", "then", "else", "loop")
        ):
            j -= 1
        name_tok = toks[j + 1] if j + 1 < i else None
        if name_tok is not None and name_tok.kind in ("ident", "qident"):
            found.add(name_tok.word.lower())
    return found


def redacted(call: Call, key_index: int) -> str:
    """The call with every literal except a pgp options string replaced by '***'."""
    parts = []
    for n, arg in enumerate(call.args):
        rendered = []
        for t in arg:
            if t.kind == "str" and not (n == OPTIONS_ARG and call.name.startswith("pgp_")):
                rendered.append("'***'")
            else:
                rendered.append(t.text)
        parts.append(_join(rendered))
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
    source: str, key_args: dict[str, int], params: tuple[str, ...] = ()
) -> list[KeyFinding]:
    """Calls in `source` to functions of `key_args` whose key argument is a constant."""
    toks = tokens(source)
    constants = constant_variables(toks) - {p.lower() for p in params}
    out: list[KeyFinding] = []
    for call in calls(toks, set(key_args)):
        index = key_args[call.name]
        if index >= len(call.args):
            continue
        arg = call.args[index]
        if is_literal(arg):
            out.append(KeyFinding(call.name, "literal", redacted(call, index)))
            continue
        name = single_name(arg)
        if name is not None and name in constants:
            out.append(KeyFinding(call.name, f"constant variable {name}", redacted(call, index)))
    return out


def key_parameters(source: str, key_args: dict[str, int], params: tuple[str, ...]) -> set[int]:
    """0-based positions of this function's parameters that reach a key argument: the
    function is then a wrapper taking a key there."""
    lowered = [p.lower() for p in params]
    found: set[int] = set()
    for call in calls(tokens(source), set(key_args)):
        index = key_args[call.name]
        if index >= len(call.args):
            continue
        name = single_name(call.args[index])
        if name is None:
            continue
        if name.startswith("$") and name[1:].isdigit():
            found.add(int(name[1:]) - 1)
        elif name in lowered:
            found.add(lowered.index(name))
    return found


def trigger_key_arguments(source: str, key_args: dict[str, int]) -> set[int]:
    """TG_ARGV positions a trigger function passes as a key."""
    found: set[int] = set()
    for call in calls(tokens(source), set(key_args)):
        index = key_args[call.name]
        if index < len(call.args):
            n = tg_argv_index(call.args[index])
            if n is not None:
                found.add(n)
    return found


def calls_any(source: str, names: set[str] | frozenset[str]) -> bool:
    return bool(calls(tokens(source), names))


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
