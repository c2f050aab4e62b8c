"""lookup indexes by related

The agent and activity lookup tables get their indexes as (key, related, stored, pk) and
(key, verb, related, stored, pk): a query by activity or agent without a verb reads one ordered range
instead of sorting every row of the key, and one without related_* reads only the rows of
related = false (lms_service/lrs/query.py). Building them reads the tables once: about 10 s per
million statements on the project's machine, while writes to the tables wait.

Revision ID: c4d8e2f1a9b3
Revises: b7e1c2d3a4f5
Create Date: 2026-12-04 21:40:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c4d8e2f1a9b3'
down_revision = 'b7e1c2d3a4f5'
branch_labels = None
depends_on = None

# (table, index name prefix, key column)
LOOKUPS = (
    ('lrs_statement_agents', 'ix_lrs_statement_agents_ifi', 'ifi'),
    ('lrs_statement_activities', 'ix_lrs_statement_activities_aid', 'activity_id'),
)


def upgrade():
    for table, prefix, key in LOOKUPS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f'{prefix}_related', [key, 'related', 'stored', 'statement_pk'], unique=False)
            batch_op.create_index(
                f'{prefix}_verb_related', [key, 'verb_id', 'related', 'stored', 'statement_pk'], unique=False
            )
            batch_op.drop_index(f'{prefix}_verb')


def downgrade():
    for table, prefix, key in LOOKUPS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.create_index(f'{prefix}_verb', [key, 'verb_id', 'stored', 'statement_pk'], unique=False)
            batch_op.drop_index(f'{prefix}_verb_related')
            batch_op.drop_index(f'{prefix}_related')
