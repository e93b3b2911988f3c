"""Builds the worker's key and value converters from their class name and properties.

Called by the sink runtime (and sources using the structured record path) once per connector. Class names are the
Kafka Connect / Confluent ones users already have in their configs, or a short name:

===============================================  ==========================
class                                            short names
===============================================  ==========================
``org.apache.kafka.connect.json.JsonConverter``  ``json``
``org.apache.kafka.connect.storage.StringConverter``  ``string``
``org.apache.kafka.connect.converters.ByteArrayConverter``  ``bytearray``, ``bytes``
``io.confluent.connect.avro.AvroConverter``      ``avro``
===============================================  ==========================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from cdc.errors import ConfigError
from schemas.converters.base import Converter

JSON = "org.apache.kafka.connect.json.JsonConverter"
STRING = "org.apache.kafka.connect.storage.StringConverter"
BYTE_ARRAY = "org.apache.kafka.connect.converters.ByteArrayConverter"
AVRO = "io.confluent.connect.avro.AvroConverter"

_ALIASES = {
    JSON.lower(): JSON,
    "json": JSON,
    "jsonconverter": JSON,
    STRING.lower(): STRING,
    "string": STRING,
    "stringconverter": STRING,
    BYTE_ARRAY.lower(): BYTE_ARRAY,
    "bytearray": BYTE_ARRAY,
    "bytes": BYTE_ARRAY,
    "bytearrayconverter": BYTE_ARRAY,
    AVRO.lower(): AVRO,
    "avro": AVRO,
    "avroconverter": AVRO,
}


def canonical_converter_class(name: str) -> str | None:
    """The Connect class name for ``name`` (a class name or a short name, any case), or None if unknown."""
    return _ALIASES.get(name.strip().lower())


def known_converters() -> str:
    """For error messages."""
    return f"{JSON} (json), {STRING} (string), {BYTE_ARRAY} (bytearray), {AVRO} (avro)"


def _constructor(cls: str) -> Callable[[], Converter]:
    if cls == JSON:
        from schemas.converters.connect_json import JsonConverter

        return JsonConverter
    if cls == STRING:
        from schemas.converters.simple import StringConverter

        return StringConverter
    if cls == BYTE_ARRAY:
        from schemas.converters.simple import ByteArrayConverter

        return ByteArrayConverter
    from schemas.converters.avro import AvroConverter  # type: ignore[import-not-found,unused-ignore]

    constructor: Callable[[], Converter] = AvroConverter
    return constructor


def build_converter(class_name: str, properties: Mapping[str, str], is_key: bool) -> Converter:
    """A configured converter; ``ConfigError`` for an unknown class or bad properties."""
    cls = canonical_converter_class(class_name)
    if cls is None:
        which = "key.converter" if is_key else "value.converter"
        raise ConfigError([f"{which}: unknown converter {class_name!r}; known: {known_converters()}"])
    converter = _constructor(cls)()
    converter.configure(properties, is_key)
    return converter
