"""Sink workers (consume change topics → MongoDB / Elasticsearch / JDBC). Not built yet: see README "Status"."""
