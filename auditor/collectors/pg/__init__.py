"""Fact gatherers that share the one read-only PostgreSQL session of a target.

Each module defines a `SessionCollector` subclass with the `model` (fact section) it fills;
`auditor.collectors.postgres` discovers and runs them, isolating their failures. The session
itself lives in `session` and its helpers (`session_settings`, `watchdog`, `secret_text`).
"""
