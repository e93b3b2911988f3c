"""Snapshot progress reporting (a progress bar per table, or log lines), shared by every source connector."""
