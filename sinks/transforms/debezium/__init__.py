"""Debezium's SMTs (``io.debezium.transforms.*``): ExtractNewRecordState, the outbox EventRouter and
ByLogicalTableRouter, with Debezium 3.6 semantics."""
