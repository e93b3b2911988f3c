"""The error handler's retry and tolerance rules (no dead-letter topic, so no broker needed)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from cdc.errors import RetriableError
from schemas.converters.base import ConversionError
from sinks.config import SinkConnectorConfig
from sinks.error_handling import ErrorHandler, RawRecord, Stage, ToleranceExceededError

RAW = RawRecord("t", 0, 5, None, b"k", b"v")


def handler(**props: str) -> ErrorHandler:
    config = SinkConnectorConfig.model_validate({"connector.class": "discard", "topics": "t", **props})
    return ErrorHandler("c", config, "unused:1", {}, threading.Event())


def flaky(failures: int, result: Any = "ok") -> Any:
    state = {"left": failures}

    def operation() -> Any:
        if state["left"]:
            state["left"] -= 1
            raise RetriableError("registry unreachable")
        return result

    return operation


def test_retriable_failures_are_retried_within_the_timeout() -> None:
    errors = handler(**{"errors.retry.timeout": "5000", "errors.retry.delay.max.ms": "50"})
    assert errors.execute(Stage.VALUE_CONVERTER, "x", RAW, flaky(2)) == (True, "ok")
    assert errors.tolerated == 0


def test_without_retries_a_retriable_failure_is_tolerated_or_fatal() -> None:
    tolerant = handler(**{"errors.tolerance": "all"})
    assert tolerant.execute(Stage.VALUE_CONVERTER, "x", RAW, flaky(1)) == (False, None)
    assert tolerant.tolerated == 1
    with pytest.raises(ToleranceExceededError, match="VALUE_CONVERTER"):
        handler().execute(Stage.VALUE_CONVERTER, "x", RAW, flaky(1))


def test_bad_records_are_not_retried() -> None:
    calls = []

    def bad() -> Any:
        calls.append(1)
        raise ConversionError("not JSON")

    tolerant = handler(**{"errors.tolerance": "all", "errors.retry.timeout": "-1"})
    assert tolerant.execute(Stage.KEY_CONVERTER, "x", RAW, bad) == (False, None)
    assert calls == [1]
    with pytest.raises(ToleranceExceededError):
        handler().report(Stage.TASK_PUT, "jdbc", RAW, ValueError("constraint"))
