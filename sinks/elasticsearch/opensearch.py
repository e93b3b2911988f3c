"""The OpenSearch flavour of the Elasticsearch sink: same properties, opensearch-py underneath.

``connector.class: opensearch`` (or Aiven's ``io.aiven.kafka.connect.opensearch.OpensearchSinkConnector``).
"""

from __future__ import annotations

from typing import Any

from cdc.connectors import ConnectorSpec
from sinks.elasticsearch.config import ElasticsearchSinkConfig


def _task(name: str, config: ElasticsearchSinkConfig) -> Any:
    from sinks.elasticsearch.task import ElasticsearchSinkTask

    return ElasticsearchSinkTask(name, config, "opensearch")


SPEC = ConnectorSpec(kind="sink", config_model=ElasticsearchSinkConfig, factory=_task)
