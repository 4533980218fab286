"""Index the users list: keyset sort indexes, and (SQLite) a trigram FTS5 index for contains-search

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03 14:00:00

The sort indexes are portable (SQLite and PostgreSQL both index lower(display_name)).
The full-text index exists only on SQLite: app/users/search.py falls back to LIKE elsewhere.

Caution for later migrations: a batch ("move and copy") alteration of the `user` table on
SQLite drops the table's triggers; such a migration must run `_create_fts_triggers()` again
(copy it) and rebuild the index, or the search index silently stops following the users.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None

_FTS_COLUMNS = "login, display_name, email"

# sqlite_stat1 rows used until a real ANALYZE replaces them: without statistics SQLite assumes
# that "tenant_id = ?" matches about ten rows and scans a tenant's whole index instead of
# looking up a handful of search matches by id. These say "a tenant has many users".
_TABLE_ROWS = 100_000
_ROWS_PER_VALUE = {"tenant_id": 10_000, "last_login_at": 10, None: 2}  # None: lower(display_name)
_UNIQUE_COLUMNS = {"id", "login_key", "email_key"}


def upgrade():
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.create_index('ix_user_tenant_login_id', ['tenant_id', 'login_key', 'id'], unique=False)
        batch_op.create_index('ix_user_tenant_email_id', ['tenant_id', 'email_key', 'id'], unique=False)
        batch_op.create_index('ix_user_tenant_last_login', ['tenant_id', 'last_login_at', 'id'],
                              unique=False)
    # An expression index: created outside the batch (nothing about the table itself changes).
    op.create_index('ix_user_tenant_name', 'user',
                    ['tenant_id', sa.text('lower(display_name)'), 'id'], unique=False)
    if op.get_bind().dialect.name == 'sqlite':
        _create_fts()
        _create_fts_triggers()
        op.execute("INSERT INTO user_fts(user_fts) VALUES ('rebuild')")
        _seed_statistics()


def _create_fts():
    """The trigram index over login, name and email (case-insensitive substrings of 3+ chars)."""
    op.execute(
        f"CREATE VIRTUAL TABLE user_fts USING fts5({_FTS_COLUMNS}, content='user', "
        "content_rowid='id', tokenize='trigram')"
    )


def _create_fts_triggers():
    """Keep the external-content index in step with the user table."""
    op.execute(
        'CREATE TRIGGER user_fts_ai AFTER INSERT ON "user" BEGIN '
        f"INSERT INTO user_fts(rowid, {_FTS_COLUMNS}) "
        "VALUES (new.id, new.login, new.display_name, new.email); END"
    )
    op.execute(
        'CREATE TRIGGER user_fts_ad AFTER DELETE ON "user" BEGIN '
        f"INSERT INTO user_fts(user_fts, rowid, {_FTS_COLUMNS}) "
        "VALUES ('delete', old.id, old.login, old.display_name, old.email); END"
    )
    # Only the indexed columns: sign-ins update last_login_at and must not rewrite the index.
    op.execute(
        'CREATE TRIGGER user_fts_au AFTER UPDATE OF login, display_name, email ON "user" BEGIN '
        f"INSERT INTO user_fts(user_fts, rowid, {_FTS_COLUMNS}) "
        "VALUES ('delete', old.id, old.login, old.display_name, old.email); "
        f"INSERT INTO user_fts(rowid, {_FTS_COLUMNS}) "
        "VALUES (new.id, new.login, new.display_name, new.email); END"
    )


def _seed_statistics():
    """Real statistics where the table is already big; planning priors where it is not."""
    op.execute('ANALYZE "user"')
    bind = op.get_bind()
    if (bind.execute(sa.text('SELECT count(*) FROM "user"')).scalar() or 0) >= 10_000:
        return
    op.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'user'")
    rows = [(None, str(_TABLE_ROWS))]
    for index in bind.execute(sa.text("PRAGMA index_list('user')")).mappings():
        columns = [c["name"] for c in bind.execute(
            sa.text(f"PRAGMA index_info('{index['name']}')")).mappings()]
        estimates, unique_so_far = [], False
        for column in columns:
            unique_so_far = unique_so_far or column in _UNIQUE_COLUMNS
            estimates.append(1 if unique_so_far else _ROWS_PER_VALUE.get(column, 100))
        rows.append((index["name"], " ".join(str(n) for n in [_TABLE_ROWS, *estimates])))
    for idx, stat in rows:
        bind.execute(sa.text("INSERT INTO sqlite_stat1(tbl, idx, stat) VALUES ('user', :idx, :stat)"),
                     {"idx": idx, "stat": stat})


def downgrade():
    if op.get_bind().dialect.name == 'sqlite':
        for trigger in ('user_fts_au', 'user_fts_ad', 'user_fts_ai'):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS user_fts")
        op.execute("DELETE FROM sqlite_stat1 WHERE tbl = 'user'")
    op.drop_index('ix_user_tenant_name', table_name='user')
    with op.batch_alter_table('user', schema=None) as batch_op:
        batch_op.drop_index('ix_user_tenant_last_login')
        batch_op.drop_index('ix_user_tenant_email_id')
        batch_op.drop_index('ix_user_tenant_login_id')
