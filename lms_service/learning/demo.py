"""Demo learning activity for a local installation: demo employees take modules through the real player
services (enrol, lessons, graded answers), so every statement, projection, certificate and statistic is the
one a real learner would leave. Used by `flask demo load`; never in production (the command refuses).
"""
from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..extensions import db
from ..packages.models import Module
from . import services


def answer_form(question: dict, lang: str) -> dict[str, Any]:
    """The form a learner who knows the right answer would send for ``question``."""
    field, kind, correct = f"q-{question['id']}", question["type"], question["correct"]
    if kind == "true_false":
        return {field: "true" if correct else "false"}
    if kind == "numeric":
        return {field: str(correct["value"] if "value" in correct else correct["min"])}
    if kind == "matching":
        return {f"{field}-{source}": target for source, target in correct.items()}
    if kind == "ordering":
        return {f"{field}-{item}": str(position) for position, item in enumerate(correct, start=1)}
    if kind == "fill_in":
        return {field: (correct.get(lang) or next(iter(correct.values())))[0]}
    return {field: correct}  # single_choice (an id), multiple_choice (a list of ids)


def take_module(user: Any, module: Module, lang: str, lessons: int | None) -> None:
    """Enrol and finish ``lessons`` lessons (None: all of them, then pass the quiz with right answers)."""
    registration = services.enrol(user, module, lang)
    state = services.open_player(registration, user, lang)
    todo = state.lessons if lessons is None else state.lessons[:lessons]
    for lesson in todo:
        services.finish_lesson(registration, user, lesson["id"], lang)
    if lessons is not None:
        return
    attempt = services.player_state(registration, lang).attempt
    for question in state.questions:
        services.record_answer(registration, user, question["id"], attempt, answer_form(question, lang), lang)
    services.submit_quiz(registration, user, attempt, lang)


def record_demo_activity(users: Sequence[Any], seed: int = 2026) -> int:
    """Each user takes one to three published modules: most pass, some stop part-way; returns modules taken."""
    rng = random.Random(seed)
    modules = list(db.session.execute(sa.select(Module).order_by(Module.slug)).scalars())
    modules = [m for m in modules if any(v.published for v in m.versions)]
    taken = 0
    for user in users:
        for module in rng.sample(modules, k=min(len(modules), rng.randint(1, 3))):
            roll = rng.random()
            take_module(user, module, user.language, None if roll < 0.6 else rng.randint(0, 2))
            taken += 1
    return taken
