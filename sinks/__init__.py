"""Sink workers: the consumer runtime, the ``SinkTask`` contract (``sinks.task``), SMTs (``sinks.transforms``) and
sink connectors (one package each)."""
