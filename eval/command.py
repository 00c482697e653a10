"""`aihub-qa eval` (to be written)."""

import typer


def register(app: typer.Typer) -> None:
    """Add the eval command to the CLI."""
