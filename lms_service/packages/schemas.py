"""marshmallow schemas of the package files (docs/module-format.md is the prose version of this file)."""
from __future__ import annotations

import re
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from marshmallow import ValidationError, fields, validates_schema

from .fieldtypes import (
    IRI_RE,
    SEMVER_RE,
    SLUG_RE,
    SUPPORTED_LANGUAGES,
    URL_RE,
    Bool,
    DateText,
    Id,
    Int,
    List,
    Nested,
    Num,
    Str,
    StrictSchema,
    Text,
    _Translated,
)
from .questions import QUESTION_TYPES

FORMAT_VERSION = 1
MOVE_ON = ("Passed", "Completed", "CompletedAndPassed", "CompletedOrPassed", "NotApplicable")


def _iri(**kwargs: Any) -> Str:
    return Str(pattern=IRI_RE, pattern_help=_l("Expected an absolute IRI (https:, http: or urn:)."), **kwargs)


class Languages(_Translated, fields.Field):
    default_error_messages = {
        "required": _l("This field is required."),
        "null": _l("This field needs a value."),
        "validator_failed": _l("Invalid value."),
        "invalid": _l("Expected a list of language codes, e.g. [sv, en]."),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> list[str]:
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise self.make_error("invalid")
        unknown = [v for v in value if v not in SUPPORTED_LANGUAGES]
        if unknown:
            raise ValidationError([_("'%(lang)s' is not a supported language (%(languages)s).",
                                     lang=unknown[0], languages=", ".join(SUPPORTED_LANGUAGES))])
        if len(set(value)) != len(value):
            raise ValidationError([_("A language is listed twice.")])
        return list(value)


class RetrySchema(StrictSchema):
    max_attempts = Int(minimum=0, load_default=3)
    review_before_retry = Bool(load_default=True)


class AuthorSchema(StrictSchema):
    name = Str(required=True)
    organisation = Str()


class ReferenceSchema(StrictSchema):
    id = Id(required=True)
    title = Str(required=True)
    organisation = Str(required=True)
    year = Int(required=True, minimum=1900, maximum=2100)
    url = Str(pattern=URL_RE, pattern_help=_l("Expected an http: or https: address."))
    note = Text()


class LessonSchema(StrictSchema):
    id = Id(required=True)
    file = Str(required=True)
    title = Text(required=True)
    workplace_task = Text(required=True)

    @validates_schema
    def file_is_a_stem(self, data: dict, **kwargs: Any) -> None:
        path = data["file"]
        if path.endswith(".md") or path.startswith("/") or ".." in path.split("/") or "\\" in path:
            raise ValidationError([_("Give the path without language suffix and .md, e.g. lessons/01-intro.")],
                                  field_name="file")


class MediaSchema(StrictSchema):
    file = Str(required=True)
    alt = Text(required=True)

    @validates_schema
    def file_is_under_media(self, data: dict, **kwargs: Any) -> None:
        path = data["file"]
        if not path.startswith("media/") or ".." in path.split("/") or "\\" in path:
            raise ValidationError([_("A media file lives under media/, e.g. media/diagram.svg.")], field_name="file")


def _format_is_known(value: int) -> None:
    if value != FORMAT_VERSION:
        raise ValidationError([_("This service reads package format %(expected)d, not %(given)s.",
                                 expected=FORMAT_VERSION, given=value)])


class ManifestSchema(StrictSchema):
    format = Int(required=True, validate=_format_is_known)
    id = _iri(required=True)
    slug = Str(required=True, pattern=SLUG_RE, pattern_help=_l(
        "A slug is 3-64 lower-case letters a-z, digits and hyphens, not starting or ending with a hyphen."))
    version = Str(required=True, pattern=SEMVER_RE, pattern_help=_l(
        "Expected a semantic version MAJOR.MINOR.PATCH, e.g. 1.0.0."))
    languages = Languages(required=True)
    title = Text(required=True, max_length=120)
    summary = Text(required=True, max_length=400)
    estimated_minutes = Int(required=True, minimum=5, maximum=60)
    learning_path = Id()
    objectives = List(Text(), required=True, min_items=1, max_items=8)
    mastery_score = Num(required=True, minimum=0, maximum=1)
    retry = Nested(RetrySchema)
    facts_checked = DateText(required=True)
    licence = Str(required=True, pattern=re.compile(r"^[A-Za-z0-9.+-]+$"),
                  pattern_help=_l("Expected an SPDX licence id, e.g. CC-BY-4.0."))
    authors = List(Nested(AuthorSchema), required=True, min_items=1)
    references = List(Nested(ReferenceSchema), required=True, unique_ids=True)
    lessons = List(Nested(LessonSchema), required=True, min_items=1, max_items=10, unique_ids=True)
    media = List(Nested(MediaSchema), load_default=list)
    quiz = Str(required=True)



class QuestionField(_Translated, fields.Field):
    """One question: its ``type`` picks the schema from the registry."""

    default_error_messages = {
        "required": _l("This field is required."),
        "null": _l("This field needs a value."),
        "validator_failed": _l("Invalid value."),
        "invalid": _l("Expected a mapping (key: value pairs)."),
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if not isinstance(value, dict):
            raise self.make_error("invalid")
        type_name = value.get("type")
        if type_name not in QUESTION_TYPES:
            if type_name is None:
                message = _("This field is required.")
            else:
                message = _("Unknown question type '%(type)s'; the types are %(types)s.",
                            type=type_name, types=", ".join(QUESTION_TYPES))
            raise ValidationError({"type": [message]})
        return QUESTION_TYPES[type_name].schema().load(value)


class QuizSchema(StrictSchema):
    questions = List(QuestionField(), required=True, min_items=1, max_items=20, unique_ids=True)


def _check_move_on(value: str | None, field_name: str) -> None:
    if value is not None and value not in MOVE_ON:
        raise ValidationError([_("'%(value)s' is not a cmi5 moveOn value (%(values)s).",
                                 value=value, values=", ".join(MOVE_ON))], field_name=field_name)


class PathModuleSchema(StrictSchema):
    """A module of a path with its own rule: ``{module: slug, move_on: Completed, required: false}``."""

    module = Str(required=True, pattern=SLUG_RE)
    move_on = Str()
    required = Bool()

    @validates_schema
    def move_on_is_cmi5(self, data: dict, **kwargs: Any) -> None:
        _check_move_on(data.get("move_on"), "move_on")


class PathModule(_Translated, fields.Field):
    """A path's module: a slug (the path's rule applies, required) or a PathModuleSchema mapping."""

    default_error_messages = {"invalid": _l("Expected a module slug or a mapping with module, move_on and required.")}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dict:
        if isinstance(value, str):
            slug = Str(pattern=SLUG_RE).deserialize(value)
            return {"module": slug, "move_on": None, "required": True}
        if isinstance(value, dict):
            loaded = PathModuleSchema().load(value)
            return {"module": loaded["module"], "move_on": loaded.get("move_on"),
                    "required": loaded.get("required", True)}
        raise self.make_error("invalid")


class PathSchema(StrictSchema):
    id = Id(required=True)
    iri = _iri(required=True)
    title = Text(required=True)
    summary = Text(required=True)
    certificate_title = Text(required=True)
    move_on = Str(required=True)
    modules = List(PathModule(), required=True, min_items=1)

    @validates_schema
    def move_on_is_cmi5(self, data: dict, **kwargs: Any) -> None:
        _check_move_on(data.get("move_on"), "move_on")

    @validates_schema
    def modules_are_sound(self, data: dict, **kwargs: Any) -> None:
        slugs = [entry["module"] for entry in data.get("modules", [])]
        errors = {index: [_("The module '%(slug)s' is listed more than once.", slug=slug)]
                  for index, slug in enumerate(slugs) if slug in slugs[:index]}
        if errors:
            raise ValidationError(errors, field_name="modules")
        if slugs and not any(entry["required"] for entry in data["modules"]):
            raise ValidationError([_("At least one module of a path must be required.")], field_name="modules")


class PathsSchema(StrictSchema):
    paths = List(Nested(PathSchema), required=True, unique_ids=True)


class TermSchema(StrictSchema):
    id = Id(required=True)
    term = Text(required=True)
    definition = Text(required=True)


class GlossarySchema(StrictSchema):
    terms = List(Nested(TermSchema), required=True, unique_ids=True)
