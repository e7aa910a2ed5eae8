"""The command line for what Dagster's CLI does not cover: the shared commands (defs/cli.py) and
each track's own (defs/<track>/cli.py), registered here. For example:

python -m personality_assets.cli populations add sample sample_maxN   # register partitions
python -m personality_assets.cli models add simulated gpt4o            # models of the persona study
python -m personality_assets.cli topics add --file topics.txt          # essay topics
python -m personality_assets.cli db upgrade | downgrade REVISION | current
python -m personality_assets.cli summary                              # what is in the database
python -m personality_assets.cli --help                               # every command
"""

from __future__ import annotations

import sys

import typer

from personality_assets.defs import cli as shared
from personality_assets.defs.tracks import track_modules


def build_app() -> typer.Typer:
    # No pretty tracebacks: they print local variables, which may hold a key.
    app = typer.Typer(
        help="The project's commands beside Dagster's own (each track adds its own).",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for module in [shared, *track_modules("cli")]:
        app.add_typer(module.app)
    return app


def main(argv: list[str] | None = None) -> int:
    """Run one command; 0 when it succeeds (a bad command line or a refusal exits as before)."""
    try:
        build_app()(args=argv, prog_name="python -m personality_assets.cli")
    except SystemExit as exit:
        if exit.code:
            raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
