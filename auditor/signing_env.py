"""The environment variable naming the signing key, apart from auditor.signing so that the
command line can declare its options without importing `cryptography` at start-up."""

SIGN_KEY_ENV = "AUDITOR_SIGN_KEY"
