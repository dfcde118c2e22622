from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from server.db import Base
from server.extensions import db

MIGRATIONS = str(Path(__file__).resolve().parents[2] / "server" / "migrations")


def test_migrations_build_exactly_the_models_schema(app):
    Base.metadata.drop_all(db.engine)
    upgrade(directory=MIGRATIONS)
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []
    downgrade(directory=MIGRATIONS, revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
    Base.metadata.create_all(db.engine)
