"""marshmallow fields for package files: strict about types (YAML guesses them) and translated messages.

Messages are Flask-Babel lazy strings: they become text in the reader's language (the request or CLI
locale) when the report is shown; outside an app they fall back to English.
"""
from __future__ import annotations

import datetime as dt
import re
from contextvars import ContextVar
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import Schema, ValidationError, fields

SUPPORTED_LANGUAGES = ("sv", "en")
ID_RE = re.compile(r"^[a-z0-9][a-z0-9-]*$")
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$")
SEMVER_RE = re.compile(r"^(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)$")
IRI_RE = re.compile(r"^(https?://[^\s/]+[^\s]*|urn:[a-zA-Z0-9][a-zA-Z0-9-]{0,31}:\S+)$")
URL_RE = re.compile(r"^https?://[^\s/]+[^\s]*$")

# The languages every translated text must hold while a package is being validated. A context
# variable, because nested schemas are instantiated by marshmallow and cannot take arguments.
package_languages: ContextVar[tuple[str, ...]] = ContextVar("package_languages", default=SUPPORTED_LANGUAGES)

COMMON_MESSAGES = {
    "required": _l("This field is required."),
    "null": _l("This field needs a value."),
    "validator_failed": _l("Invalid value."),
}


class StrictSchema(Schema):
    """Unknown fields are errors: a typo must not silently drop content."""

    error_messages = {
        "type": _l("Expected a mapping (key: value pairs)."),
        "unknown": _l("Unknown field."),
    }


class _Translated:
    """Mixin: translated default messages, always wrapped in a list (lazy strings are not ``str``)."""

    def make_error(self, key: str, **kwargs: Any) -> ValidationError:  # type: ignore[override]
        msg = self.error_messages[key]  # type: ignore[attr-defined]
        if kwargs:
            msg = str(msg) % kwargs
        return ValidationError([msg])


class Str(_Translated, fields.Field):
    default_error_messages = {**COMMON_MESSAGES, "invalid": _l("Expected text.")}

    def __init__(self, *, pattern: re.Pattern | None = None, pattern_help: Any = None,
                 max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pattern = pattern
        self.pattern_help = pattern_help
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if not isinstance(value, str):
            raise self.make_error("invalid")
        value = value.strip()
        if not value:
            raise ValidationError([_("This field must not be empty.")])
        if self.pattern is not None and not self.pattern.match(value):
            raise ValidationError([self.pattern_help or _("'%(value)s' has the wrong form.", value=value)])
        if self.max_length is not None and len(value) > self.max_length:
            raise ValidationError([_("At most %(max)d characters, this has %(count)d.",
                                     max=self.max_length, count=len(value))])
        return value


def Id(**kwargs: Any) -> Str:
    return Str(pattern=ID_RE, pattern_help=_l(
        "An id uses only lower-case letters a-z, digits and hyphens, and starts with a letter or digit."), **kwargs)


class Int(_Translated, fields.Field):
    default_error_messages = {**COMMON_MESSAGES, "invalid": _l("Expected a whole number.")}

    def __init__(self, *, minimum: int | None = None, maximum: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.make_error("invalid")
        _check_range(value, self.minimum, self.maximum)
        return value


class Num(_Translated, fields.Field):
    default_error_messages = {**COMMON_MESSAGES, "invalid": _l("Expected a number.")}

    def __init__(self, *, minimum: float | None = None, maximum: float | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.minimum, self.maximum = minimum, maximum

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> float | int:
        if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
            raise self.make_error("invalid")
        _check_range(value, self.minimum, self.maximum)
        return value


def _check_range(value: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and maximum is not None and not minimum <= value <= maximum:
        raise ValidationError([_("Must be between %(min)s and %(max)s; it is %(value)s.",
                                 min=minimum, max=maximum, value=value)])
    if minimum is not None and value < minimum:
        raise ValidationError([_("Must be at least %(min)s; it is %(value)s.", min=minimum, value=value)])
    if maximum is not None and value > maximum:
        raise ValidationError([_("Must be at most %(max)s; it is %(value)s.", max=maximum, value=value)])


class Bool(_Translated, fields.Field):
    default_error_messages = {**COMMON_MESSAGES, "invalid": _l("Expected true or false.")}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class DateText(_Translated, fields.Field):
    default_error_messages = {**COMMON_MESSAGES, "invalid": _l("Expected a date written YYYY-MM-DD.")}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> str:
        if isinstance(value, dt.date):
            return value.isoformat()
        if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
            raise self.make_error("invalid")
        try:
            dt.date.fromisoformat(value)
        except ValueError:
            raise self.make_error("invalid") from None
        return value


class Text(_Translated, fields.Field):
    """Translated text: a mapping language -> string holding every language of the package."""

    default_error_messages = {
        **COMMON_MESSAGES,
        "invalid": _l("Expected a translation per language, e.g. {sv: ..., en: ...}."),
    }

    def __init__(self, *, max_length: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.max_length = max_length

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, str]:
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        languages = package_languages.get()
        errors: dict[str, list] = {}
        result: dict[str, str] = {}
        for lang in languages:
            if lang not in value:
                errors[lang] = [_("The translation into '%(lang)s' is missing.", lang=lang)]
        for lang, text in value.items():
            if lang not in languages:
                errors[str(lang)] = [_("'%(lang)s' is not one of the module's languages (%(languages)s).",
                                       lang=lang, languages=", ".join(languages))]
            elif not isinstance(text, str) or not text.strip():
                errors[lang] = [_("The '%(lang)s' text must be non-empty text.", lang=lang)]
            elif self.max_length is not None and len(text.strip()) > self.max_length:
                errors[lang] = [_("At most %(max)d characters, this has %(count)d.",
                                  max=self.max_length, count=len(text.strip()))]
            else:
                result[lang] = text.strip()
        if errors:
            raise ValidationError(errors)
        return result


class AcceptedAnswers(_Translated, fields.Field):
    """fill_in answers: a mapping language -> list of accepted answers (at least one per language)."""

    default_error_messages = {
        **COMMON_MESSAGES,
        "invalid": _l("Expected a list of accepted answers per language, e.g. {sv: [...], en: [...]}."),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, list[str]]:
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        languages = package_languages.get()
        errors: dict[str, list] = {}
        result: dict[str, list[str]] = {}
        for lang in languages:
            if lang not in value:
                errors[lang] = [_("The accepted answers in '%(lang)s' are missing.", lang=lang)]
        for lang, answers in value.items():
            if lang not in languages:
                errors[str(lang)] = [_("'%(lang)s' is not one of the module's languages (%(languages)s).",
                                       lang=lang, languages=", ".join(languages))]
                continue
            if isinstance(answers, str):
                answers = [answers]
            if (not isinstance(answers, list) or not answers
                    or not all(isinstance(a, str | int | float) and not isinstance(a, bool) and str(a).strip()
                               for a in answers)):
                errors[lang] = [_("List at least one accepted answer, each non-empty text.")]
                continue
            cleaned = [" ".join(str(a).split()) for a in answers]
            if any("[,]" in a for a in cleaned):
                errors[lang] = [_("An accepted answer must not contain '[,]'.")]
                continue
            result[lang] = cleaned
        if errors:
            raise ValidationError(errors)
        return result


class IdMapping(_Translated, fields.Field):
    """A mapping id -> id (matching questions: source -> target)."""

    default_error_messages = {**COMMON_MESSAGES, "invalid": _l("Expected a mapping of ids, e.g. {a: x, b: y}.")}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict[str, str]:
        if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                                  for k, v in value.items()):
            raise self.make_error("invalid")
        return dict(value)


class List(_Translated, fields.List):
    default_error_messages = {**COMMON_MESSAGES, "invalid": _l("Expected a list.")}

    def __init__(self, inner: Any, *, min_items: int | None = None, max_items: int | None = None,
                 unique_ids: bool = False, unique_values: bool = False, **kwargs: Any) -> None:
        super().__init__(inner, **kwargs)
        self.min_items, self.max_items = min_items, max_items
        self.unique_ids, self.unique_values = unique_ids, unique_values

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list:
        if not isinstance(value, list):
            raise self.make_error("invalid")
        count = len(value)
        if self.min_items is not None and count < self.min_items:
            raise ValidationError([_("List at least %(min)d items; there are %(count)d.",
                                     min=self.min_items, count=count)])
        if self.max_items is not None and count > self.max_items:
            raise ValidationError([_("List at most %(max)d items; there are %(count)d.",
                                     max=self.max_items, count=count)])
        # Duplicates are found on the raw items, so they are reported together with any other error.
        duplicates: dict = {}
        if self.unique_ids:
            duplicates = _duplicates([item.get("id") if isinstance(item, dict) else None for item in value],
                                     id_field=True)
        elif self.unique_values:
            duplicates = _duplicates(value, id_field=False)
        try:
            result = super()._deserialize(value, attr, data, **kwargs)
        except ValidationError as exc:
            raise ValidationError(_merge(exc.messages, duplicates)) from None
        if duplicates:
            raise ValidationError(duplicates)
        return result


def _duplicates(values: list, *, id_field: bool) -> dict:
    seen: set = set()
    errors: dict[int, Any] = {}
    for index, value in enumerate(values):
        if value is None or not isinstance(value, str | int):
            continue
        if value in seen:
            message = [_("The id '%(id)s' is used more than once.", id=value)]
            errors[index] = {"id": message} if id_field else message
        seen.add(value)
    return errors


def _merge(first: Any, second: dict) -> Any:
    if not second:
        return first
    if not isinstance(first, dict):
        return second
    merged = dict(first)
    for key, value in second.items():
        if key not in merged:
            merged[key] = value
        elif isinstance(merged[key], dict) and isinstance(value, dict):
            merged[key] = {**value, **merged[key]}
        elif isinstance(merged[key], dict):
            merged[key] = {**merged[key], "id": value}
        else:
            merged[key] = list(merged[key]) + list(value) if isinstance(value, list) else merged[key]
    return merged


class Nested(_Translated, fields.Nested):
    default_error_messages = {**COMMON_MESSAGES, "type": _l("Expected a mapping (key: value pairs).")}
