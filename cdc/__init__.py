"""cdc-engine: follow database change logs and publish Debezium-identical change events to Kafka."""

__version__ = "0.1.0"
