"""`flask db upgrade` builds the whole schema on an empty database, and agrees with the models."""
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade

from lms_service.extensions import db


@pytest.fixture
def empty_database(database, tmp_path):
    url, drop = database.new_url("migr", tmp_path)
    yield url
    drop()


def test_upgrade_on_an_empty_database_matches_the_models(make_app, empty_database):
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database)
    with app.app_context():
        upgrade()
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"


def test_downgrade_to_base_and_upgrade_again(make_app, empty_database):
    app = make_app(SQLALCHEMY_DATABASE_URI=empty_database)
    with app.app_context():
        upgrade()
        downgrade(revision="base")
        upgrade()
        with db.engine.connect() as connection:
            assert "users" in db.inspect(connection).get_table_names()
