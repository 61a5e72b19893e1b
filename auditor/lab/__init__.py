"""Throwaway PostgreSQL clusters with real TLS, used by `auditor demo` and the test suite."""
