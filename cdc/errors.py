"""The one error taxonomy of the engine.

Every failure the engine can meet is one of four kinds, and each kind has one handling policy:

* :class:`ConfigError` - the user's configuration is wrong. Raised before anything runs, carries *every*
  problem found (not just the first), and makes the CLI exit with code 2.
* :class:`RetriableError` - something outside us is temporarily unavailable (database or broker connection
  lost). The runtime tears the pipeline down, keeps the last stored position, and retries with capped backoff.
* :class:`FatalError` - retrying cannot help (replication slot gone after we stored an offset, ``wal_level``
  not ``logical``, missing privilege). The engine stops with an actionable message and a non-zero exit code.
* :class:`SkippableRecordError` - one record cannot be processed (sinks). Routed to the dead-letter topic
  when ``errors.tolerance=all``, fatal otherwise.

The CLI is the only place that turns these into exit codes and messages; no traceback reaches a user.
"""

from __future__ import annotations


class CdcError(Exception):
    """Base class of every error the engine raises on purpose."""


class ConfigError(CdcError):
    """The configuration is invalid; ``problems`` lists every problem found, one sentence each."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def render(self) -> str:
        """A multi-line message for the terminal: a header and one bullet per problem."""
        lines = [f"Invalid configuration ({len(self.problems)} problem(s)):"]
        lines += [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


class RetriableError(CdcError):
    """A transient failure; the runtime restarts the pipeline from the last stored offset after a backoff."""


class FatalError(CdcError):
    """A failure retrying cannot fix; the message tells the user what to change."""


class SkippableRecordError(CdcError):
    """A single record could not be processed; sinks may route it to a dead-letter topic."""
