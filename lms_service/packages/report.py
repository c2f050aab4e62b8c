"""The validation report: every issue at once, each naming the file, the line and the field."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ValidationIssue:
    file: str
    line: int | None
    field: str | None
    message: Any  # a str or a Flask-Babel lazy string, turned into text in the reader's language by str()

    def location(self) -> str:
        where = self.file or "."
        if self.line:
            where += f":{self.line}"
        return where

    def __str__(self) -> str:
        text = f"{self.location()}: "
        if self.field:
            text += f"{self.field}: "
        return text + str(self.message)

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "field": self.field, "message": str(self.message)}


@dataclass
class ValidationReport:
    source: str = ""
    issues: list[ValidationIssue] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.issues

    def add(self, file: str, line: int | None, field_name: str | None, message: Any) -> None:
        self.issues.append(ValidationIssue(file, line, field_name, message))

    def extend(self, issues: list[ValidationIssue]) -> None:
        self.issues.extend(issues)

    def sorted_issues(self) -> list[ValidationIssue]:
        return sorted(self.issues, key=lambda i: (i.file or "", i.line or 0, i.field or "", str(i.message)))

    def messages(self) -> list[str]:
        return [str(issue) for issue in self.sorted_issues()]

    def as_text(self) -> str:
        return "\n".join(self.messages())


def field_path(path: list[Any]) -> str:
    """``['lessons', 2, 'title', 'en']`` -> ``lessons[3].title.en`` (items counted from 1, as authors count)."""
    text = ""
    for step in path:
        if isinstance(step, int):
            text += f"[{step + 1}]"
        else:
            text += ("." if text else "") + str(step)
    return text
