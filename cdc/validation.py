"""The result type of prerequisite checks (``cdc-engine validate``), shared by every connector."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
