"""Extension singletons, bound to the app in create_app (no circular imports)."""
import sqlite3

import sqlalchemy as sa
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_smorest import Api
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect
from sqlalchemy import MetaData
from sqlalchemy.orm import DeclarativeBase

# A naming convention makes constraint names stable across SQLite and PostgreSQL, so Alembic can
# alter and drop them by name.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


db = SQLAlchemy(model_class=Base)
migrate = Migrate()
login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
api = Api()  # flask-smorest: the reporting API's OpenAPI document
limiter = Limiter(key_func=get_remote_address, default_limits=[])


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_pragmas(dbapi_connection, connection_record) -> None:
    """SQLite as a real multi-process database: WAL lets readers work while one process writes, the busy
    timeout makes a second writer wait instead of failing, and foreign keys are enforced as on PostgreSQL."""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def begin_write(session=None) -> None:
    """Make the session's transaction a write transaction from here on: on SQLite take the database's write
    lock now (BEGIN IMMEDIATE), so what the transaction reads next and what it writes are one step.

    Services that read, decide and write (documents with their preconditions, statement ingest) call it
    before their first query. SQLite ignores SELECT … FOR UPDATE, and pysqlite opens a transaction only at
    the first INSERT/UPDATE/DELETE: without this, two writers both read the old row and both write.
    Other transactions keep pysqlite's usual behaviour (a plain BEGIN at the first write), because a
    deferred transaction that reads first cannot later take the lock once another writer has committed
    ("database is locked" at once, the busy timeout does not apply), and BEGIN IMMEDIATE everywhere would
    queue readers behind writers. Savepoints (begin_nested) work inside it: the transaction is a real one.
    Already in a write transaction (an INSERT ran), the lock is held and nothing is to do; on PostgreSQL
    nothing either (row locks and unique indexes do this).
    """
    session = session if session is not None else db.session
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    if not connection.connection.driver_connection.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def upsert(model, rows: list[dict], index_elements: list[str], update: list[str] | None) -> None:
    """INSERT … ON CONFLICT on PostgreSQL and SQLite: update the ``update`` columns from the new row, or with
    ``update`` None leave the stored row alone. Atomic per row, so two transactions never race on a key."""
    from sqlalchemy.dialects import postgresql, sqlite

    insert = postgresql.insert if db.session.get_bind().dialect.name == "postgresql" else sqlite.insert
    stmt = insert(model)
    if update:
        stmt = stmt.on_conflict_do_update(
            index_elements=index_elements, set_={c: getattr(stmt.excluded, c) for c in update})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=index_elements)
    db.session.execute(stmt, rows)
