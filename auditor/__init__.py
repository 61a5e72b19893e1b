"""Auditor: prove that a PostgreSQL deployment encrypts personal data in transit, in its
columns and at rest, and turn what was observed into evidence an auditor accepts."""

__version__ = "0.1.0"
