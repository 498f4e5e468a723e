"""Fixtures for tests that need committed data and worker processes."""

from tests.worker.support import live_db, sqlite_live_db, workers

__all__ = ["live_db", "sqlite_live_db", "workers"]
