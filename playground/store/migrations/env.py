"""alembic's entry point: migrations run on the connection :meth:`playground.store.db.Database.migrate` opened
(inside its transaction and lock), never from an alembic.ini."""

from alembic import context

connection = context.config.attributes.get("connection")
if connection is None:
    raise SystemExit("run migrations through playground.store.db.Database.migrate(), not the alembic command")

context.configure(
    connection=connection,
    target_metadata=context.config.attributes.get("target_metadata"),
    render_as_batch=True,  # SQLite alters a table by copying it; batch mode writes migrations that way
)
with context.begin_transaction():
    context.run_migrations()
