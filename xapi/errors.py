"""Errors raised by the framework-free xAPI core."""

from __future__ import annotations


class XAPIValidationError(ValueError):
    """A statement, agent or request part that breaks an xAPI rule.

    ``path`` names the offending property (``actor.mbox``,
    ``context.contextActivities.parent[0].id``, ``[3].verb.display``); it is empty when
    the problem is the document as a whole. ``str(err)`` gives ``"path: message"``.
    """

    __slots__ = ("message", "path")

    def __init__(self, path: str, message: str) -> None:
        super().__init__(path, message)
        self.path = path
        self.message = message

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message

    def __repr__(self) -> str:
        return f"XAPIValidationError({self.path!r}, {self.message!r})"


class UnsupportedVersion(ValueError):
    """The X-Experience-API-Version header is missing or names a version this LRS refuses."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message
