"""Per-client declarations, per-client portfolio habilitations, the bulk upload slot.

Revision ID: 0006
Revises: 0005

"""
from alembic import op
import sqlalchemy as sa


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None

PORTFOLIO_WIDE = 'portfolio_id IS NOT NULL AND client_siret IS NULL'


def _where(condition):
    return {'sqlite_where': sa.text(condition), 'postgresql_where': sa.text(condition)}


def upgrade():
    with op.batch_alter_table('portfolios', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_bulk_upload_at', sa.DateTime(timezone=True),
                                      nullable=True))

    op.create_table('portfolio_client_services',
    sa.Column('portfolio_id', sa.Integer(), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('service_code', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['portfolio_id', 'service_code'], ['portfolio_services.portfolio_id', 'portfolio_services.service_code'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['portfolio_id', 'siret'], ['portfolio_clients.portfolio_id', 'portfolio_clients.siret'], ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['service_code'], ['services.code'], ),
    sa.PrimaryKeyConstraint('portfolio_id', 'siret', 'service_code')
    )
    # Today every client has every declaration of its portfolio's container: keep that.
    op.execute(
        'INSERT INTO portfolio_client_services (portfolio_id, siret, service_code) '
        'SELECT c.portfolio_id, c.siret, s.service_code FROM portfolio_clients c '
        'JOIN portfolio_services s ON s.portfolio_id = c.portfolio_id')

    # The whole-portfolio index narrows to rows without a client before any exists.
    with op.batch_alter_table('habilitations', schema=None) as batch_op:
        batch_op.drop_index('uq_habilitations_portfolio', **_where('portfolio_id IS NOT NULL'))
    with op.batch_alter_table('habilitations', schema=None) as batch_op:
        batch_op.add_column(sa.Column('client_siret', sa.String(length=14),
                                      sa.ForeignKey('establishments.siret', name='fk_habilitations_client_siret'),
                                      nullable=True))
        batch_op.create_check_constraint('ck_habilitations_client',
                                         'client_siret IS NULL OR portfolio_id IS NOT NULL')
    with op.batch_alter_table('habilitations', schema=None) as batch_op:
        batch_op.create_index('uq_habilitations_portfolio',
                              ['account_id', 'service_code', 'portfolio_id'], unique=True,
                              **_where(PORTFOLIO_WIDE))
        batch_op.create_index('uq_habilitations_client',
                              ['account_id', 'service_code', 'client_siret', 'portfolio_id'],
                              unique=True, **_where('client_siret IS NOT NULL'))
        batch_op.create_index('ix_habilitations_client', ['client_siret', 'portfolio_id'],
                              unique=False, **_where('client_siret IS NOT NULL'))


def downgrade():
    # Per-client habilitations have no meaning before this revision.
    op.execute('DELETE FROM habilitations WHERE client_siret IS NOT NULL')
    with op.batch_alter_table('habilitations', schema=None) as batch_op:
        batch_op.drop_index('ix_habilitations_client', **_where('client_siret IS NOT NULL'))
        batch_op.drop_index('uq_habilitations_client', **_where('client_siret IS NOT NULL'))
        batch_op.drop_index('uq_habilitations_portfolio', **_where(PORTFOLIO_WIDE))
    with op.batch_alter_table('habilitations', schema=None) as batch_op:
        batch_op.drop_constraint('ck_habilitations_client', type_='check')
        batch_op.drop_column('client_siret')
    with op.batch_alter_table('habilitations', schema=None) as batch_op:
        batch_op.create_index('uq_habilitations_portfolio',
                              ['account_id', 'service_code', 'portfolio_id'], unique=True,
                              **_where('portfolio_id IS NOT NULL'))
    op.drop_table('portfolio_client_services')
    with op.batch_alter_table('portfolios', schema=None) as batch_op:
        batch_op.drop_column('last_bulk_upload_at')
