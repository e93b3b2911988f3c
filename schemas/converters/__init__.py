"""Worker-owned converters (Kafka Connect's ``key.converter`` / ``value.converter``), used by sources and sinks.

``schemas.converters.base.Converter`` is the contract; one module per converter family (JSON, String, ByteArray,
Avro). The worker builds the converters from its configuration and hands them to connectors.
"""
