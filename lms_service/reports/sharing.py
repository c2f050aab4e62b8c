"""A company's choice to let the programme's coordinators see its employees individually."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from ..extensions import db
from .models import CoordinatorGrant


def is_shared(organisation_id: int) -> bool:
    return db.session.get(CoordinatorGrant, organisation_id) is not None


def shared_organisations() -> set[int]:
    return set(db.session.execute(sa.select(CoordinatorGrant.organisation_id)).scalars())


def set_shared(organisation_id: int, shared: bool, by_user_id: int | None) -> None:
    """Grant or withdraw and commit; doing what is already done changes nothing."""
    grant = db.session.get(CoordinatorGrant, organisation_id)
    if shared and grant is None:
        db.session.add(CoordinatorGrant(organisation_id=organisation_id, granted_by_id=by_user_id))
    elif not shared and grant is not None:
        db.session.delete(grant)
    try:
        db.session.commit()
    except IntegrityError:  # the same grant, sent twice at once: the other request made it
        db.session.rollback()
