"""The queue of e-mails and back-channel logouts (deliveries).

Revision ID: 0007
Revises: 0006

"""
from alembic import op
import sqlalchemy as sa


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('deliveries',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), autoincrement=True, nullable=False),
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('claimed_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('ix_deliveries_due', 'deliveries', ['next_attempt_at'], unique=False,
                    sqlite_where=sa.text('failed_at IS NULL'),
                    postgresql_where=sa.text('failed_at IS NULL'))


def downgrade():
    op.drop_index('ix_deliveries_due', table_name='deliveries',
                  sqlite_where=sa.text('failed_at IS NULL'),
                  postgresql_where=sa.text('failed_at IS NULL'))
    op.drop_table('deliveries')
