"""``kpi social import``: platform exports into the ``social_posts.csv`` of a source folder."""

from __future__ import annotations

from pathlib import Path

import click


@click.group("social")
def social():
    """Social media data: import the platforms' CSV exports."""


@social.command("import")
@click.argument("exports", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--to",
    "folder",
    required=True,
    type=click.Path(file_okay=False),
    help="Source folder whose social_posts.csv is created or updated.",
)
@click.option(
    "--mark-deleted",
    is_flag=True,
    help="Mark posts the new export no longer lists (within its dates) as deleted.",
)
def import_command(exports, folder, mark_deleted):
    """Add Meta Business Suite, LinkedIn or X post EXPORTS to FOLDER/social_posts.csv.

    \b
    A post already there (same platform and post id) takes the newer numbers.
    Example: kpi social import meta-posts.csv linkedin-content.csv --to data/
    """
    from .exports import merge_posts, read_export, read_posts_csv, write_posts_csv

    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    path = target / "social_posts.csv"
    posts = read_posts_csv(path)
    for export in exports:
        name, rows = read_export(export)
        posts = merge_posts(posts, rows, mark_deleted=mark_deleted)
        click.echo(f"{export}: {len(rows)} posts ({name})")
    write_posts_csv(path, posts)
    click.echo(f"Wrote {path}: {len(posts)} posts.")
