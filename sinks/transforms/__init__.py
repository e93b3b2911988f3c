"""Single message transforms (SMTs) and predicates, with Kafka Connect and Debezium names and semantics.

``sinks.transforms.base`` is the contract; one module per family. They run on sink records and on source records
(``transforms=unwrap`` on a Debezium source connector).
"""
