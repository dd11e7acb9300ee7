"""network view: group profiles of peers, searchable remote objects, postcode districts

Revision ID: e7f1b3d5c822
Revises: d5e8a2c4b611
Create Date: 2026-11-22 03:10:00.000000

"""
import json
import math
from datetime import datetime, timezone

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'e7f1b3d5c822'
down_revision = 'd5e8a2c4b611'
branch_labels = None
depends_on = None

# Never rebuild peer (batch mode's drop-and-copy on SQLite): dropping it would delete every
# entry, object, follow and delivery that points at it (ON DELETE CASCADE, and the node
# turns SQLite's foreign keys on). Hence plain ADD/DROP COLUMN, and a plain '' default
# (given an expression, batch mode would decide to rebuild).
PEER_COLUMNS = (
    ('area', lambda: sa.Column('area', sa.String(length=300), server_default='', nullable=False)),
    ('seat_name', lambda: sa.Column('seat_name', sa.String(length=300), server_default='', nullable=False)),
    ('seat_majority', lambda: sa.Column('seat_majority', sa.Integer(), nullable=True)),
    ('seat_marginality', lambda: sa.Column('seat_marginality', sa.Float(), nullable=True)),
    ('latitude', lambda: sa.Column('latitude', sa.Float(), nullable=True)),
    ('longitude', lambda: sa.Column('longitude', sa.Float(), nullable=True)),
    ('profile_updated_at', lambda: sa.Column('profile_updated_at', sa.DateTime(), nullable=True)),
    ('last_activity_at', lambda: sa.Column('last_activity_at', sa.DateTime(), nullable=True)),
)
OBJECT_COLUMNS = (
    ('ends_at', lambda: sa.Column('ends_at', sa.DateTime(), nullable=True)),
    ('kind', lambda: sa.Column('kind', sa.String(length=40), nullable=True)),
    ('status', lambda: sa.Column('status', sa.String(length=40), nullable=True)),
    ('latitude', lambda: sa.Column('latitude', sa.Float(), nullable=True)),
    ('longitude', lambda: sa.Column('longitude', sa.Float(), nullable=True)),
    ('office', lambda: sa.Column('office', sa.String(length=40), nullable=True)),
    ('stage', lambda: sa.Column('stage', sa.String(length=40), nullable=True)),
    ('endorsement', lambda: sa.Column('endorsement', sa.String(length=40), nullable=True)),
    ('election_result', lambda: sa.Column('election_result', sa.String(length=500), nullable=True)),
)
OBJECT_INDEXES = (
    ('ix_remote_object_object_type_starts_at', ['object_type', 'starts_at']),
    ('ix_remote_object_latitude_longitude', ['latitude', 'longitude']),
    ('ix_remote_object_object_type_kind_status', ['object_type', 'kind', 'status']),
    ('ix_remote_object_object_type_endorsement_office', ['object_type', 'endorsement', 'office']),
)


def upgrade():
    # Columns are added in place (ALTER TABLE ... ADD COLUMN), never by rebuilding a table:
    # see PEER_COLUMNS.
    for _name, column in PEER_COLUMNS:
        op.add_column('peer', column())
    for _name, column in OBJECT_COLUMNS:
        op.add_column('remote_object', column())
    for name, columns in OBJECT_INDEXES:
        op.create_index(name, 'remote_object', columns, unique=False)

    op.create_table('postcode_district',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('district', sa.String(length=8), nullable=False),
    sa.Column('latitude', sa.Float(), nullable=False),
    sa.Column('longitude', sa.Float(), nullable=False),
    sa.Column('postcodes', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_postcode_district')),
    sa.UniqueConstraint('district', name=op.f('uq_postcode_district_district'))
    )

    _fill_searchable_columns()
    # A peer's last activity: the newest entry already held from it.
    op.execute(
        "UPDATE peer SET last_activity_at = (SELECT max(remote_entry.received_at) "
        "FROM remote_entry WHERE remote_entry.peer_id = peer.id)"
    )


def downgrade():
    op.drop_table('postcode_district')
    for name, _columns in reversed(OBJECT_INDEXES):
        op.drop_index(name, table_name='remote_object')
    # Dropped in place too (ALTER TABLE ... DROP COLUMN: SQLite 3.35 or later); an older
    # SQLite refuses, which is better than rebuilding peer and losing what points at it.
    for name, _column in reversed(OBJECT_COLUMNS):
        op.drop_column('remote_object', name)
    for name, _column in reversed(PEER_COLUMNS):
        op.drop_column('peer', name)


# Objects stored before this revision: copy their fields out of the JSON they keep. This is
# a frozen copy of what node/services/remote_feed.py does today, so the revision never
# changes meaning when that code does.

def _text(value, limit):
    return value[:limit] if isinstance(value, str) and value else None


def _number(value, bound):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and -bound <= value <= bound else None


def _place(location):
    for place in location if isinstance(location, list) else [location]:
        if isinstance(place, dict):
            latitude = _number(place.get('latitude'), 90)
            longitude = _number(place.get('longitude'), 180)
            if latitude is not None and longitude is not None:
                return latitude, longitude
    return None, None


def _moment(value):
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace('Z', '+00:00'))
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _fill_searchable_columns():
    bind = op.get_bind()
    table = sa.table(
        'remote_object',
        sa.column('id', sa.Integer()),
        sa.column('data', sa.Text()),
        sa.column('deleted', sa.Boolean()),
        *(sa.column(name, column().type) for name, column in OBJECT_COLUMNS),
    )
    last = 0
    while True:
        rows = bind.execute(
            sa.select(table.c.id, table.c.data)
            .where(table.c.id > last, table.c.deleted.is_(False))
            .order_by(table.c.id)
            .limit(500)
        ).all()
        if not rows:
            break
        for row_id, data in rows:
            try:
                obj = json.loads(data or '{}')
            except ValueError:
                obj = {}
            if not isinstance(obj, dict):
                continue
            latitude, longitude = _place(obj.get('location'))
            values = {
                'ends_at': _moment(obj.get('endTime')),
                'kind': _text(obj.get('kind'), 40),
                'status': _text(obj.get('status'), 40),
                'latitude': latitude,
                'longitude': longitude,
                'office': _text(obj.get('office'), 40),
                'stage': _text(obj.get('stage'), 40),
                'endorsement': _text(obj.get('endorsement'), 40),
                'election_result': _text(obj.get('electionResult'), 500),
            }
            if any(value is not None for value in values.values()):
                bind.execute(table.update().where(table.c.id == row_id).values(**values))
        last = rows[-1][0]
