"""deferred projection tasks

Work that ingest hooks hand on to the run after the ingest commit (lms_service/lrs/deferred.py): reporting
rows to refresh, certificates to issue. The table starts empty: existing reporting rows and certificates are
already up to date.

Revision ID: b7e1c2d3a4f5
Revises: 3027b56d0374
Create Date: 2026-12-04 21:10:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'b7e1c2d3a4f5'
down_revision = '3027b56d0374'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('lrs_projection_tasks',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=32), nullable=False),
    sa.Column('registration', sa.String(length=64), nullable=True),
    sa.Column('statement_id', sa.String(length=64), nullable=True),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_lrs_projection_tasks'))
    )


def downgrade():
    op.drop_table('lrs_projection_tasks')
