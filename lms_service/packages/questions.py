"""Quiz question types: a registry of classes sharing one interface (CTFd's challenge types are the model).

Every type knows how to validate its definition (``schema``), render its form fields for a learner
(``render``), read a submitted form (``parse_response``), grade a response (``grade``) and describe itself
as an xAPI ``cmi.interaction`` activity (``xapi_definition``, ``xapi_response``). A question is the plain
dict that :class:`QuizSchema` loaded from quiz.yaml (it is also what ModuleVersion.quiz stores).

Correct answers never reach the browser: ``render`` builds its view from the question without them.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from marshmallow import ValidationError, validates_schema

from .fieldtypes import AcceptedAnswers, Bool, Id, IdMapping, List, Nested, Num, Str, StrictSchema, Text

CMI_INTERACTION = "http://adlnet.gov/expapi/activities/cmi.interaction"


class ResponseError(ValueError):
    """A submitted form that is not a well-formed answer to the question (not the same as a wrong answer)."""

    def __init__(self, message: Any) -> None:
        super().__init__(str(message))
        self.message = message


# ---------------------------------------------------------------- schemas


class ItemSchema(StrictSchema):
    id = Id(required=True)
    text = Text(required=True)


def items_field(**kwargs: Any) -> List:
    return List(Nested(ItemSchema), required=True, min_items=2, max_items=8, unique_ids=True, **kwargs)


class QuestionSchema(StrictSchema):
    """The fields every question has; each type's schema adds its own."""

    id = Id(required=True)
    type = Str(required=True)
    prompt = Text(required=True)
    explanation = Text(required=True)
    lesson = Id()


def _ids(items: list[dict]) -> list[str]:
    return [item["id"] for item in items]


def _quote_ids(ids: list[str]) -> str:
    return ", ".join(ids)


class SingleChoiceSchema(QuestionSchema):
    choices = items_field()
    correct = Str(required=True)

    @validates_schema
    def correct_is_a_choice(self, data: dict, **kwargs: Any) -> None:
        ids = _ids(data["choices"])
        if data["correct"] not in ids:
            raise ValidationError([_("The correct answer '%(answer)s' is not one of the choices (%(ids)s).",
                                     answer=data["correct"], ids=_quote_ids(ids))], field_name="correct")


class MultipleChoiceSchema(QuestionSchema):
    choices = items_field()
    correct = List(Str(), required=True, min_items=1, unique_values=True)

    @validates_schema
    def correct_are_choices(self, data: dict, **kwargs: Any) -> None:
        ids = _ids(data["choices"])
        unknown = [answer for answer in data["correct"] if answer not in ids]
        if unknown:
            raise ValidationError([_("The correct answer '%(answer)s' is not one of the choices (%(ids)s).",
                                     answer=unknown[0], ids=_quote_ids(ids))], field_name="correct")


class TrueFalseSchema(QuestionSchema):
    correct = Bool(required=True)


class NumericAnswerSchema(StrictSchema):
    value = Num()
    tolerance = Num(minimum=0)
    min = Num()
    max = Num()

    @validates_schema
    def one_form(self, data: dict, **kwargs: Any) -> None:
        has_value, has_range = "value" in data, "min" in data or "max" in data
        if has_value and has_range:
            raise ValidationError([_("Give either value (with an optional tolerance) or min and max, not both.")])
        if not has_value and not has_range:
            raise ValidationError([_("Give value (with an optional tolerance) or min and max.")])
        if "tolerance" in data and not has_value:
            raise ValidationError([_("A tolerance needs a value.")], field_name="tolerance")
        if has_range:
            if "min" not in data or "max" not in data:
                raise ValidationError([_("A range needs both min and max.")])
            if data["min"] > data["max"]:
                raise ValidationError([_("min (%(min)s) is greater than max (%(max)s).",
                                         min=data["min"], max=data["max"])], field_name="min")


class NumericSchema(QuestionSchema):
    unit = Text()
    correct = Nested(NumericAnswerSchema, required=True)


class MatchingSchema(QuestionSchema):
    sources = items_field()
    targets = items_field()
    correct = IdMapping(required=True)

    @validates_schema
    def correct_matches(self, data: dict, **kwargs: Any) -> None:
        sources, targets = _ids(data["sources"]), _ids(data["targets"])
        errors = []
        for source, target in data["correct"].items():
            if source not in sources:
                errors.append(_("'%(id)s' is not one of the sources (%(ids)s).", id=source, ids=_quote_ids(sources)))
            if target not in targets:
                errors.append(_("The correct answer '%(answer)s' is not one of the targets (%(ids)s).",
                                answer=target, ids=_quote_ids(targets)))
        missing = [source for source in sources if source not in data["correct"]]
        if missing:
            errors.append(_("Every source needs its target; missing: %(ids)s.", ids=_quote_ids(missing)))
        if errors:
            raise ValidationError(errors, field_name="correct")


class OrderingSchema(QuestionSchema):
    items = items_field()
    correct = List(Str(), required=True, unique_values=True)

    @validates_schema
    def correct_is_an_order(self, data: dict, **kwargs: Any) -> None:
        ids = _ids(data["items"])
        unknown = [answer for answer in data["correct"] if answer not in ids]
        if unknown:
            raise ValidationError([_("The correct answer '%(answer)s' is not one of the items (%(ids)s).",
                                     answer=unknown[0], ids=_quote_ids(ids))], field_name="correct")
        missing = [item for item in ids if item not in data["correct"]]
        if missing:
            raise ValidationError([_("The correct order must list every item; missing: %(ids)s.",
                                     ids=_quote_ids(missing))], field_name="correct")


class FillInSchema(QuestionSchema):
    case_sensitive = Bool()
    correct = AcceptedAnswers(required=True)


# ---------------------------------------------------------------- helpers


def _values(form: Mapping[str, Any], name: str) -> list[str]:
    """All submitted values of ``name`` from a werkzeug MultiDict or a plain dict of str/list."""
    if hasattr(form, "getlist"):
        return [str(v) for v in form.getlist(name)]
    value = form.get(name)
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _one(form: Mapping[str, Any], name: str) -> str:
    values = [v.strip() for v in _values(form, name) if v.strip()]
    if not values:
        raise ResponseError(_l("Please answer the question."))
    if len(values) > 1:
        raise ResponseError(_l("Give one answer only."))
    return values[0]


def parse_number(text: str) -> Decimal:
    """A number typed by a learner: decimal comma or point, spaces as thousands separators."""
    cleaned = text.strip().replace("\u00a0", "").replace(" ", "").replace("\u2212", "-").replace(",", ".")
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        raise ResponseError(_l("Type a number, for example 4.5 or 4,5.")) from None
    if not number.is_finite():
        raise ResponseError(_l("Type a number, for example 4.5 or 4,5."))
    return number


def format_number(value: Any) -> str:
    """Shortest plain decimal text for a number (no exponent, no trailing zeros)."""
    number = value if isinstance(value, Decimal) else Decimal(str(value))
    text = format(number.normalize(), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _text(value: dict[str, str] | None, lang: str) -> str:
    if not value:
        return ""
    return value.get(lang) or next(iter(value.values()))


def _lang_map(value: dict[str, str], languages: list[str]) -> dict[str, str]:
    return {lang: value[lang] for lang in languages if lang in value}


def _field(question: dict) -> str:
    return f"q-{question['id']}"


def normalise_text(text: str, case_sensitive: bool) -> str:
    text = " ".join(text.split())
    return text if case_sensitive else text.casefold()


# ---------------------------------------------------------------- the interface


class QuestionType:
    """One kind of quiz question. Subclasses set the class attributes and implement the methods."""

    type_name: ClassVar[str]
    interaction_type: ClassVar[str]
    schema: ClassVar[type[QuestionSchema]]
    template: ClassVar[str]

    def view(self, question: dict, lang: str, response: Any) -> dict:
        """What the template may show: never the correct answer."""
        return {}

    def render(self, question: dict, lang: str, response: Any = None, feedback: dict | None = None) -> Markup:
        """The question's form fields (a fieldset) as HTML; ``feedback`` (after grading) is
        ``{"correct": bool}``, the explanation is shown then and only then."""
        from flask import render_template

        context = {
            "question": {"id": question["id"], "type": self.type_name, "field": _field(question),
                         "prompt": _text(question["prompt"], lang)},
            "lang": lang,
            "response": response,
            "feedback": feedback,
            "explanation": _text(question["explanation"], lang) if feedback is not None else None,
            **self.view(question, lang, response),
        }
        return Markup(render_template(f"packages/questions/{self.template}.html", **context))

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> Any:
        raise NotImplementedError

    def grade(self, question: dict, response: Any) -> bool:
        raise NotImplementedError

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        raise NotImplementedError

    def components(self, question: dict, languages: list[str]) -> dict:
        return {}

    def xapi_definition(self, question: dict, lang_list: list[str]) -> dict:
        """The xAPI activity definition of the question as a cmi.interaction."""
        definition = {
            "type": CMI_INTERACTION,
            "name": _lang_map(question["prompt"], lang_list),
            "description": _lang_map(question["prompt"], lang_list),
            "interactionType": self.interaction_type,
            "correctResponsesPattern": self.correct_patterns(question, lang_list),
        }
        definition.update(self.components(question, lang_list))
        return definition

    def xapi_response(self, response: Any) -> str:
        raise NotImplementedError


def _component_list(items: list[dict], languages: list[str]) -> list[dict]:
    return [{"id": item["id"], "description": _lang_map(item["text"], languages)} for item in items]


class SingleChoice(QuestionType):
    type_name = "single_choice"
    interaction_type = "choice"
    schema = SingleChoiceSchema
    template = "single_choice"

    def view(self, question: dict, lang: str, response: Any) -> dict:
        return {"choices": [{"id": c["id"], "text": _text(c["text"], lang), "checked": c["id"] == response}
                            for c in question["choices"]]}

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> str:
        answer = _one(form_values, _field(question))
        if answer not in _ids(question["choices"]):
            raise ResponseError(_l("That is not one of the choices."))
        return answer

    def grade(self, question: dict, response: Any) -> bool:
        return response == question["correct"]

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        return [question["correct"]]

    def components(self, question: dict, languages: list[str]) -> dict:
        return {"choices": _component_list(question["choices"], languages)}

    def xapi_response(self, response: Any) -> str:
        return str(response)


class MultipleChoice(SingleChoice):
    type_name = "multiple_choice"
    schema = MultipleChoiceSchema
    template = "multiple_choice"

    def view(self, question: dict, lang: str, response: Any) -> dict:
        chosen = set(response or ())
        return {"choices": [{"id": c["id"], "text": _text(c["text"], lang), "checked": c["id"] in chosen}
                            for c in question["choices"]]}

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> list[str]:
        values = [v.strip() for v in _values(form_values, _field(question)) if v.strip()]
        if not values:
            raise ResponseError(_l("Please choose at least one answer."))
        ids = _ids(question["choices"])
        if any(v not in ids for v in values):
            raise ResponseError(_l("That is not one of the choices."))
        # The order of the choices, not of the submission, so equal answers give equal statements.
        return [choice for choice in ids if choice in values]

    def grade(self, question: dict, response: Any) -> bool:
        return set(response) == set(question["correct"])

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        ids = _ids(question["choices"])
        return ["[,]".join(c for c in ids if c in question["correct"])]

    def xapi_response(self, response: Any) -> str:
        return "[,]".join(response)


class TrueFalse(QuestionType):
    type_name = "true_false"
    interaction_type = "true-false"
    schema = TrueFalseSchema
    template = "true_false"

    def view(self, question: dict, lang: str, response: Any) -> dict:
        return {"options": [{"value": "true", "label": _("True"), "checked": response is True},
                            {"value": "false", "label": _("False"), "checked": response is False}]}

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> bool:
        answer = _one(form_values, _field(question)).lower()
        if answer not in ("true", "false"):
            raise ResponseError(_l("Answer true or false."))
        return answer == "true"

    def grade(self, question: dict, response: Any) -> bool:
        return response is question["correct"]

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        return ["true" if question["correct"] else "false"]

    def xapi_response(self, response: Any) -> str:
        return "true" if response else "false"


class Numeric(QuestionType):
    type_name = "numeric"
    interaction_type = "numeric"
    schema = NumericSchema
    template = "numeric"

    def view(self, question: dict, lang: str, response: Any) -> dict:
        return {"unit": _text(question.get("unit"), lang),
                "value": format_number(response) if response is not None else ""}

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> Decimal:
        return parse_number(_one(form_values, _field(question)))

    @staticmethod
    def _bounds(question: dict) -> tuple[Decimal, Decimal]:
        correct = question["correct"]
        if "value" in correct:
            value = Decimal(str(correct["value"]))
            tolerance = Decimal(str(correct.get("tolerance", 0)))
            return value - tolerance, value + tolerance
        return Decimal(str(correct["min"])), Decimal(str(correct["max"]))

    def grade(self, question: dict, response: Any) -> bool:
        low, high = self._bounds(question)
        return low <= Decimal(str(response)) <= high

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        low, high = self._bounds(question)
        if low == high:
            return [format_number(low)]
        return [f"{format_number(low)}[:]{format_number(high)}"]

    def xapi_response(self, response: Any) -> str:
        return format_number(response)


class Matching(QuestionType):
    type_name = "matching"
    interaction_type = "matching"
    schema = MatchingSchema
    template = "matching"

    def view(self, question: dict, lang: str, response: Any) -> dict:
        chosen = response or {}
        return {
            "sources": [{"id": s["id"], "text": _text(s["text"], lang), "field": f"{_field(question)}-{s['id']}",
                         "selected": chosen.get(s["id"])} for s in question["sources"]],
            "targets": [{"id": t["id"], "text": _text(t["text"], lang)} for t in question["targets"]],
        }

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> dict[str, str]:
        targets = _ids(question["targets"])
        response = {}
        for source in _ids(question["sources"]):
            try:
                target = _one(form_values, f"{_field(question)}-{source}")
            except ResponseError:
                raise ResponseError(_l("Match every item.")) from None
            if target not in targets:
                raise ResponseError(_l("That is not one of the choices."))
            response[source] = target
        return response

    def grade(self, question: dict, response: Any) -> bool:
        return dict(response) == dict(question["correct"])

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        return [self.xapi_response({s: question["correct"][s] for s in _ids(question["sources"])})]

    def components(self, question: dict, languages: list[str]) -> dict:
        return {"source": _component_list(question["sources"], languages),
                "target": _component_list(question["targets"], languages)}

    def xapi_response(self, response: Any) -> str:
        return "[,]".join(f"{source}[.]{target}" for source, target in response.items())


class Ordering(QuestionType):
    type_name = "ordering"
    interaction_type = "sequencing"
    schema = OrderingSchema
    template = "ordering"

    @staticmethod
    def shuffled(question: dict) -> list[dict]:
        """The items in a fixed shuffled order (the same on every page load), never the correct one."""
        items = list(question["items"])
        random.Random(question["id"]).shuffle(items)  # noqa: S311 - presentation only
        if _ids(items) == list(question["correct"]):
            items = items[1:] + items[:1]
        return items

    def view(self, question: dict, lang: str, response: Any) -> dict:
        positions = {item: index + 1 for index, item in enumerate(response or [])}
        items = self.shuffled(question)
        return {"items": [{"id": i["id"], "text": _text(i["text"], lang), "field": f"{_field(question)}-{i['id']}",
                           "position": positions.get(i["id"])} for i in items],
                "positions": list(range(1, len(items) + 1))}

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> list[str]:
        ids = _ids(question["items"])
        placed: dict[int, str] = {}
        for item in ids:
            try:
                position = int(_one(form_values, f"{_field(question)}-{item}"))
            except (ResponseError, ValueError):
                raise ResponseError(_l("Give every item a position.")) from None
            if not 1 <= position <= len(ids):
                raise ResponseError(_l("Give every item a position."))
            if position in placed:
                raise ResponseError(_l("Give each item a different position."))
            placed[position] = item
        return [placed[position] for position in sorted(placed)]

    def grade(self, question: dict, response: Any) -> bool:
        return list(response) == list(question["correct"])

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        return ["[,]".join(question["correct"])]

    def components(self, question: dict, languages: list[str]) -> dict:
        return {"choices": _component_list(question["items"], languages)}

    def xapi_response(self, response: Any) -> str:
        return "[,]".join(response)


class FillIn(QuestionType):
    type_name = "fill_in"
    interaction_type = "fill-in"
    schema = FillInSchema
    template = "fill_in"

    def view(self, question: dict, lang: str, response: Any) -> dict:
        return {"value": response or ""}

    def parse_response(self, question: dict, form_values: Mapping[str, Any]) -> str:
        answer = " ".join(_one(form_values, _field(question)).split())
        if len(answer) > 200:
            raise ResponseError(_l("The answer is too long (at most 200 characters)."))
        return answer

    def grade(self, question: dict, response: Any) -> bool:
        sensitive = bool(question.get("case_sensitive", False))
        given = normalise_text(response, sensitive)
        # Any language's accepted answer counts: a Swedish learner may well type the English term.
        return any(given == normalise_text(answer, sensitive)
                   for answers in question["correct"].values() for answer in answers)

    def correct_patterns(self, question: dict, languages: list[str]) -> list[str]:
        case = "true" if question.get("case_sensitive", False) else "false"
        return [f"{{case_matters={case}}}{{lang={lang}}}{answer}"
                for lang in languages for answer in question["correct"].get(lang, [])]

    def xapi_response(self, response: Any) -> str:
        return str(response)


QUESTION_TYPES: dict[str, QuestionType] = {
    cls.type_name: cls() for cls in (SingleChoice, MultipleChoice, TrueFalse, Numeric, Matching, Ordering, FillIn)
}


def get_question_type(type_name: str) -> QuestionType:
    """The registered type for ``type_name``; KeyError when there is none."""
    return QUESTION_TYPES[type_name]


def register_question_type(question_type: QuestionType) -> None:
    """Add a type (plugins, tests); a name can be registered once."""
    if question_type.type_name in QUESTION_TYPES:
        raise ValueError(f"question type {question_type.type_name!r} is already registered")
    QUESTION_TYPES[question_type.type_name] = question_type
