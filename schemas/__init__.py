"""Kafka Connect schema model, Debezium envelope schemas, and the converters that serialize records."""
