"""Commands of the essay track: topic partitions, and its part of the summary."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import polars as pl
import typer
from sqlalchemy import func, select

from personality_assets import settings
from personality_assets.db.engine import experiment_transaction
from personality_assets.db.tables.essays import Essay, EssayPersona, EssayTopic
from personality_assets.defs.cli import add_partitions
from personality_assets.defs.essays.partitions import essay_topic_partitions
from personality_assets.defs.essays.topics import TopicError, check_topic, read_topics_file

app = typer.Typer()
topics = typer.Typer(help="add essay topic partitions (the key is the topic's text)")
app.add_typer(topics, name="topics")


@topics.command()
def add(
    topic: Annotated[
        list[str] | None, typer.Argument(metavar="TOPIC", help='e.g. "Should college tuition be free?"')
    ] = None,
    file: Annotated[Path | None, typer.Option(help="a text file with one topic per line (# comments)")] = None,
) -> None:
    """Register essay topic partitions."""
    try:
        keys = [check_topic(text) for text in topic or []] + (read_topics_file(file) if file else [])
    except TopicError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
    if not keys:
        print("no topics given: name them, or --file FILE (one per line)", file=sys.stderr)
        sys.exit(2)
    add_partitions(essay_topic_partitions, keys, "essay topic")


def summary(target) -> None:
    essays, topics = Essay.__table__, EssayTopic.__table__
    query = (
        select(
            topics.c.topic,
            func.count(essays.c.id).label("planned"),
            func.count(essays.c.content).label("written"),
            func.count(func.distinct(essays.c.persona_id)).label("personas"),
        )
        .join(essays, essays.c.topic_id == topics.c.id)
        .group_by(topics.c.topic)
        .order_by(topics.c.topic)
    )
    with experiment_transaction(target) as connection:
        frame = pl.read_database(query, connection)
        personas = connection.execute(select(func.count()).select_from(EssayPersona.__table__)).scalar_one()
    if frame.height:
        print(f"Essays per topic ({personas:,} student personas in the repository):\n{frame}")
        print(f"Essays with their dimensions (parquet): {settings.data_dir() / 'parquet' / 'essays'}")
