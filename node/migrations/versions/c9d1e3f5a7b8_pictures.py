"""pictures: uploaded pictures, and a picture with its alt text on campaigns, events and posts

Revision ID: c9d1e3f5a7b8
Revises: f3a9c7e1d5b8
Create Date: 2026-12-06 19:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c9d1e3f5a7b8'
down_revision = 'f3a9c7e1d5b8'
branch_labels = None
depends_on = None

TABLES = ('campaign', 'event', 'post')


def upgrade():
    op.create_table(
        'picture',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('name', sa.String(length=40), nullable=False),
        sa.Column('media_type', sa.String(length=32), nullable=False),
        sa.Column('width', sa.Integer(), nullable=False),
        sa.Column('height', sa.Integer(), nullable=False),
        sa.Column('byte_size', sa.Integer(), nullable=False),
        sa.Column('uploaded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['uploaded_by_id'], ['member.id'], name=op.f('fk_picture_uploaded_by_id_member'), ondelete='SET NULL'),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_picture')),
        sa.UniqueConstraint('name', name=op.f('uq_picture_name')),
    )
    with op.batch_alter_table('picture', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_picture_uploaded_by_id'), ['uploaded_by_id'], unique=False)
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('image', sa.String(length=40), nullable=True))
            batch_op.add_column(sa.Column('image_alt', sa.String(length=300), nullable=True))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('image_alt')
            batch_op.drop_column('image')
    with op.batch_alter_table('picture', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_picture_uploaded_by_id'))
    op.drop_table('picture')
