"""Non-diffusible legal units and establishments (statutDiffusion P in the SIRENE stock).

Revision ID: 0013
Revises: 0012

"""
from alembic import op
import sqlalchemy as sa


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    for table in ('companies', 'establishments'):
        op.add_column(table, sa.Column('diffusible', sa.Boolean(), nullable=False,
                                       server_default=sa.true()))


def downgrade():
    for table in ('companies', 'establishments'):
        with op.batch_alter_table(table) as batch:
            batch.drop_column('diffusible')
