"""Index the live refresh tokens by session id (sign-out).

Revision ID: 0009
Revises: 0008

"""
from alembic import op
import sqlalchemy as sa


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index('ix_refresh_tokens_live_sid', 'refresh_tokens', ['sid'], unique=False,
                    sqlite_where=sa.text('revoked_at IS NULL'),
                    postgresql_where=sa.text('revoked_at IS NULL'))


def downgrade():
    op.drop_index('ix_refresh_tokens_live_sid', table_name='refresh_tokens',
                  sqlite_where=sa.text('revoked_at IS NULL'),
                  postgresql_where=sa.text('revoked_at IS NULL'))
