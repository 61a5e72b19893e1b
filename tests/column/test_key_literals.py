"""The SQL call scanner: literal keys are found through quoting, casts, comments, constants,
wrappers and trigger arguments; the options argument and parameters are not keys; snippets
never repeat a literal."""

from __future__ import annotations

import time

from hypothesis import given
from hypothesis import strategies as st

from auditor.collectors.pg import key_literals as kl

KEYS = {**kl.PGCRYPTO_KEY_ARGS, **kl.DESIGN_WRAPPERS}


def _found(src: str, params: tuple[str, ...] = ()) -> list[tuple[str, str]]:
    return [(k.call, k.via) for k in kl.literal_keys(src, KEYS, params)]


def test_literal_keys_in_plpgsql() -> None:
    src = """
    DECLARE k CONSTANT text := 'sup3r-secret';
    BEGIN
      -- pgp_sym_encrypt(x, 'only-in-a-comment')
      /* pgp_sym_encrypt(x, 'nor /* nested */ here') */
      a := pgp_sym_encrypt(NEW.email, 'hard-coded-key', 'cipher-algo=aes256');
      b := encode(pgp_sym_encrypt(NEW.phone, k), 'base64');
      c := pgp_sym_encrypt(NEW.x, $1, 'cipher-algo=aes256');
      d := public.encrypt_text(NEW.y, E'it''s \\\\ key'::text);
      e := pgp_sym_encrypt(NEW.z, p_key, 'compress-algo=1');
      f := pgp_sym_decrypt(NEW.z::bytea, convert_from(decode('6b6579', 'hex'), 'utf8'));
      g := pgp_sym_encrypt($q$dollar quoted$q$, $k$dollar-key$k$);
    END"""
    assert _found(src, ("p_key",)) == [
        ("pgp_sym_encrypt", "literal"),
        ("pgp_sym_encrypt", "constant variable k"),
        ("encrypt_text", "literal"),
        ("pgp_sym_decrypt", "literal"),
        ("pgp_sym_encrypt", "literal"),
    ]


def test_options_argument_is_not_a_key() -> None:
    assert (
        _found(
            "SELECT pgp_sym_encrypt(data, key_param, 'cipher-algo=aes256')", ("data", "key_param")
        )
        == []
    )
    assert _found("SELECT encrypt_text($1, $2)") == []


def test_snippets_redact_every_literal_but_options() -> None:
    src = "SELECT pgp_sym_encrypt('john@example.com', 'the-key'::text, 'cipher-algo=aes256')"
    (finding,) = kl.literal_keys(src, KEYS)
    assert finding.snippet == "pgp_sym_encrypt('***', '***'::text, 'cipher-algo=aes256')"
    assert "the-key" not in finding.snippet and "john" not in finding.snippet


def test_wrappers_are_learnt_from_parameter_flow() -> None:
    assert kl.key_parameters(
        "SELECT encode(pgp_sym_encrypt($1, $2, 'cipher-algo=aes256'), 'base64')",
        KEYS,
        ("data", "key"),
    ) == {1}
    assert kl.key_parameters("BEGIN RETURN decrypt_text(ct, k); END", KEYS, ("k", "ct")) == {0}
    assert kl.key_parameters("SELECT pgp_sym_encrypt($1, 'x')", KEYS, ("d",)) == set()


def test_trigger_arguments_reaching_a_key() -> None:
    src = "BEGIN NEW.e := encrypt_text(NEW.e, TG_ARGV[1]); RETURN NEW; END"
    assert kl.trigger_key_arguments(src, KEYS) == {1}


def test_unterminated_input_does_not_raise() -> None:
    for src in (
        "pgp_sym_encrypt('abc",
        "pgp_sym_encrypt(x, $a$ never closed",
        "/* open",
        "pgp_sym_encrypt(",
        "encrypt_text(a, 'k'",
    ):
        kl.literal_keys(src, KEYS)


def test_settings_lookups_are_not_literal_keys() -> None:
    assert _found("SELECT pgp_sym_encrypt(x, current_setting('app.key'))") == []


def test_constant_parameter_defaults() -> None:
    assert kl.literal_defaults("data text, key text DEFAULT 'k'::text") == {1}
    assert kl.literal_defaults("OUT r text, k text DEFAULT 'z'") == {0}
    assert (
        kl.literal_defaults(
            "a text, b integer DEFAULT 3, c text DEFAULT current_setting('x'::text)"
        )
        == set()
    )


@given(st.text(max_size=300))
def test_arbitrary_sql_never_raises(src: str) -> None:
    kl.literal_keys(src, KEYS, ("p",))
    kl.key_parameters(src, KEYS, ("p",))
    kl.literal_defaults(src)


@given(
    st.text(
        alphabet=st.characters(exclude_characters="'\\", exclude_categories=["Cs"]),
        min_size=6,
        max_size=40,
    )
)
def test_snippets_never_repeat_a_literal_key(key: str) -> None:
    src = f"SELECT pgp_sym_encrypt(col, '{key}', 'cipher-algo=aes256') FROM t"
    (finding,) = kl.literal_keys(src, KEYS)
    assert key not in finding.snippet or key in "pgp_sym_encrypt(col, '***', 'cipher-algo=aes256')"


def _generated_body(chars: int) -> str:
    """A PL/pgSQL body of about `chars` characters: many statements calling pgcrypto and a
    wrapper, parameters as keys (nothing to find), comments and quoted strings."""
    line = (
        "  x := encrypt_text(p_a || 'abc', p_key); "
        "y := pgp_sym_encrypt(z, p_key, 'cipher-algo=aes256'); -- note\n"
    )
    return "BEGIN\n" + line * (chars // len(line)) + "END"


def _cost(src: str) -> float:
    """CPU time of this thread, the best of three: on a loaded machine wall time also counts
    the waits for a CPU, which made the ratio below flaky (31x once, in a full suite run)."""
    best = float("inf")
    for _ in range(3):
        started = time.thread_time()
        kl.literal_keys(src, KEYS, ("p_a", "p_key"))
        best = min(best, time.thread_time() - started)
    return best


def test_scan_cost_grows_linearly_with_body_size() -> None:
    """A 500 KB body costs about 10x a 50 KB one (quadratic was ~100x; the bound is generous
    for a loaded machine)."""
    small, big = _generated_body(50_000), _generated_body(500_000)
    ratio = _cost(big) / _cost(small)
    assert ratio < 30, ratio


def test_deeply_nested_calls_stay_linear() -> None:
    """Each nested call's arguments are split without walking the inner calls again."""

    def nested(depth: int) -> str:
        return "pgp_sym_encrypt(" * depth + "x" + ", p_key)" * depth

    ratio = _cost(nested(8_000)) / _cost(nested(800))
    assert ratio < 30, ratio
    # A long argument is cut but never taken for a literal.
    found = kl.literal_keys("pgp_sym_encrypt(x, " + "'a' || " * 400 + "p_key)", KEYS)
    assert found == []


def test_a_key_in_a_pgp_named_wrapper_third_argument_is_masked() -> None:
    keys = {**KEYS, "pgp_wrap_encrypt": 2}
    src = "SELECT pgp_wrap_encrypt(p_note, 'cipher-algo=aes256', 'wrapper-canary-key')"
    (finding,) = kl.literal_keys(src, keys)
    assert "wrapper-canary-key" not in finding.snippet
    assert finding.snippet == "pgp_wrap_encrypt(p_note, '***', '***')"
    # pgcrypto's own options string is still shown, and only one that reads as options.
    (own,) = kl.literal_keys("pgp_sym_encrypt(d, 'k1', 'cipher-algo=aes256')", KEYS)
    assert own.snippet == "pgp_sym_encrypt(d, '***', 'cipher-algo=aes256')"
    (odd,) = kl.literal_keys("pgp_sym_encrypt(d, 'k1', 'not options at all')", KEYS)
    assert odd.snippet == "pgp_sym_encrypt(d, '***', '***')"


def test_every_literal_spelling_of_a_key_is_found() -> None:
    spellings = [
        "CAST('k1' AS text)",
        "CAST('k1' AS character varying(64))",
        "text 'k1'",
        "pg_catalog.text 'k1'",
        "(SELECT 'k1')",
        "format('%s', 'k1')",
        "'k1'::text",
        "'k' || '1'",
        "concat('k', '1')",
        "convert_to('k1', 'utf8')",
    ]
    for spelling in spellings:
        found = kl.literal_keys(f"SELECT pgp_sym_encrypt(d, {spelling})", KEYS)
        assert [(f.call, f.via) for f in found] == [("pgp_sym_encrypt", "literal")], spelling
        assert "k1" not in found[0].snippet and "'1'" not in found[0].snippet
    not_literals = [
        "CAST(p_key AS text)",
        "(SELECT key FROM app.keys)",
        "(SELECT 'k1' FROM app.keys)",
        "format('%s', p_key)",
        "current_setting('app.key')",
        "users.key",
        "p_key || 'suffix'",
    ]
    for spelling in not_literals:
        found = kl.literal_keys(f"SELECT pgp_sym_encrypt(d, {spelling})", KEYS, ("p_key",))
        assert found == [], spelling
