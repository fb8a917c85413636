"""Notifications: the notices partners publish, each person's state of them, the e-mail
settings and digests; the index that finds an establishment's latest DSN declarant.

Revision ID: 0012
Revises: 0011

"""
from alembic import op
import sqlalchemy as sa


revision = '0012'
down_revision = '0011'
branch_labels = None
depends_on = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), 'sqlite')


def upgrade():
    op.create_table('notifications',
    sa.Column('id', BIG_ID, autoincrement=True, nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('siren', sa.String(length=9), nullable=False),
    sa.Column('service_code', sa.String(length=16), nullable=False),
    sa.Column('category', sa.String(length=40), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('body', sa.Text(), nullable=False),
    sa.Column('link', sa.String(length=2000), nullable=False),
    sa.Column('document', sa.String(length=2000), nullable=True),
    sa.Column('campaign', sa.Boolean(), nullable=False),
    sa.Column('published_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mailed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['service_code'], ['services.code']),
    sa.ForeignKeyConstraint(['siret'], ['establishments.siret']),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('client_id', 'key', name='uq_notifications_key')
    )
    op.create_index('ix_notifications_service_siret', 'notifications',
                    ['service_code', 'siret', 'id'])
    op.create_index('ix_notifications_service_siren', 'notifications',
                    ['service_code', 'siren', 'id'])
    op.create_index('ix_notifications_category_siret', 'notifications',
                    ['category', 'siret', 'id'])
    op.create_index('ix_notifications_unmailed', 'notifications', ['id'],
                    sqlite_where=sa.text('mailed_at IS NULL'),
                    postgresql_where=sa.text('mailed_at IS NULL'))
    op.create_table('notification_states',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('notification_id', BIG_ID, nullable=False),
    sa.Column('read_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('archived_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['notification_id'], ['notifications.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id', 'notification_id')
    )
    op.create_table('notification_mail_settings',
    sa.Column('account_id', sa.Uuid(), nullable=False),
    sa.Column('weekly_digest', sa.Boolean(), nullable=False),
    sa.Column('pending_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('campaign_pending', sa.Boolean(), nullable=False),
    sa.Column('through_id', sa.BigInteger(), nullable=False),
    sa.Column('last_digest_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['account_id'], ['accounts.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('account_id')
    )
    op.create_index('ix_notification_mail_settings_pending', 'notification_mail_settings',
                    ['pending_since'], sqlite_where=sa.text('pending_since IS NOT NULL'),
                    postgresql_where=sa.text('pending_since IS NOT NULL'))
    op.create_index('ix_declarant_links_declared', 'declarant_links',
                    ['declared_siret', 'last_dsn_at'])


def downgrade():
    op.drop_index('ix_declarant_links_declared', table_name='declarant_links')
    op.drop_index('ix_notification_mail_settings_pending',
                  table_name='notification_mail_settings')
    op.drop_table('notification_mail_settings')
    op.drop_table('notification_states')
    op.drop_index('ix_notifications_unmailed', table_name='notifications')
    op.drop_index('ix_notifications_category_siret', table_name='notifications')
    op.drop_index('ix_notifications_service_siren', table_name='notifications')
    op.drop_index('ix_notifications_service_siret', table_name='notifications')
    op.drop_table('notifications')
