"""Elasticsearch sink connector with the Confluent connector's properties
(``io.confluent.connect.elasticsearch.ElasticsearchSinkConnector``); ``sinks.elasticsearch.opensearch`` is the
OpenSearch flavour."""

from __future__ import annotations

from typing import Any

from cdc.connectors import ConnectorSpec
from sinks.elasticsearch.config import ElasticsearchSinkConfig


def _task(name: str, config: ElasticsearchSinkConfig) -> Any:
    from sinks.elasticsearch.task import ElasticsearchSinkTask

    return ElasticsearchSinkTask(name, config, "elasticsearch")


SPEC = ConnectorSpec(kind="sink", config_model=ElasticsearchSinkConfig, factory=_task)
