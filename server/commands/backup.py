"""``shuangsui backup`` / ``shuangsui restore``: the database and its files in one archive."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext


def _dirs() -> dict[str, str]:
    from server.backup import FILE_DIRS

    return {k: current_app.config.get(k) or "" for k in FILE_DIRS}


@click.command("backup")
@click.argument("archive", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup(archive: Path) -> None:
    """Write ARCHIVE (.tar.gz): every table, attachments, models and draw pools, with checksums."""
    from server.backup import backup as do_backup
    from server.extensions import db

    manifest = do_backup(db.session, archive, _dirs())
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"backup {archive}: {rows} rows in {len(manifest['tables'])} tables, "
               f"{len(manifest['files'])} files", err=True)


@click.command("restore")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def restore(archive: Path) -> None:
    """Restore ARCHIVE into this instance's empty, migrated database (checksums and audit chain checked)."""
    from server.backup import restore as do_restore
    from server.errors import DomainError
    from server.extensions import db

    try:
        manifest = do_restore(db.session, archive, _dirs())
    except DomainError as exc:
        raise click.ClickException(exc.message) from None
    rows = sum(t["rows"] for t in manifest["tables"].values())
    click.echo(f"restored {rows} rows and {len(manifest['files'])} files; audit chain verified", err=True)
