"""The audit-trail tests scan the same two clusters as the column tests (started once per
session by the shared cache)."""

from tests.column.conftest import (  # noqa: F401  (pytest fixtures)
    column_weak_cluster,
    design_cluster,
    design_scan,
    weak_scan,
)
