"""recurring events: a series with a repeat rule and exceptions

Revision ID: e7a9c1d3f548
Revises: d6f8b0c2e437
Create Date: 2026-12-11 11:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7a9c1d3f548'
down_revision = 'd6f8b0c2e437'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('event_series',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('rule', sa.String(length=300), nullable=False),
    sa.Column('starts_local', sa.DateTime(), nullable=False),
    sa.Column('timezone', sa.String(length=64), nullable=False),
    sa.Column('duration_seconds', sa.Integer(), nullable=True),
    sa.Column('details', sa.Text(), nullable=False),
    sa.Column('made_until', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_series'))
    )
    op.create_table('event_series_exception',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('series_id', sa.Integer(), nullable=False),
    sa.Column('occurrence_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['series_id'], ['event_series.id'], name=op.f('fk_event_series_exception_series_id_event_series'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_series_exception')),
    sa.UniqueConstraint('series_id', 'occurrence_at', name='uq_event_series_exception_at')
    )
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.add_column(sa.Column('series_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('occurrence_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_event_series_id'), ['series_id'], unique=False)
        batch_op.create_unique_constraint('uq_event_series_occurrence', ['series_id', 'occurrence_at'])
        batch_op.create_foreign_key(batch_op.f('fk_event_series_id_event_series'), 'event_series', ['series_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('event', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_event_series_id_event_series'), type_='foreignkey')
        batch_op.drop_constraint('uq_event_series_occurrence', type_='unique')
        batch_op.drop_index(batch_op.f('ix_event_series_id'))
        batch_op.drop_column('occurrence_at')
        batch_op.drop_column('series_id')

    op.drop_table('event_series_exception')
    op.drop_table('event_series')
