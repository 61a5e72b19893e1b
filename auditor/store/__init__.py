"""The history store (SQLite or PostgreSQL): see auditor/store/db.py."""

from auditor.shards import Shard
from auditor.store.db import HistoryDB, RunInfo, StoreError, with_lifecycle
from auditor.store.location import StoreLocationError, parse_location

__all__ = [
    "HistoryDB",
    "RunInfo",
    "Shard",
    "StoreError",
    "StoreLocationError",
    "parse_location",
    "with_lifecycle",
]
