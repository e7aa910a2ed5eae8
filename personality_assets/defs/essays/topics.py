"""Essay topics: the key of an essay_topic partition is the topic's text."""

from __future__ import annotations

from pathlib import Path


class TopicError(ValueError):
    pass


def check_topic(topic: str) -> str:
    """The topic, or an error saying which rule it breaks (the UI's partition selection splits on
    commas and reads ``...`` as a range, so neither may appear)."""
    if topic != topic.strip() or not topic:
        raise TopicError(f"topic {topic!r}: no leading or trailing spaces, and not empty")
    if len(topic) > 300:
        raise TopicError(f"topic {topic[:40]!r}...: at most 300 characters (it has {len(topic)})")
    for bad, name in ((",", "a comma"), ("...", "'...'"), ("|", "'|'"), ("\n", "a line break"), ("\t", "a tab")):
        if bad in topic:
            raise TopicError(f"topic {topic!r}: {name} is not allowed in a topic (rephrase it)")
    return topic


def read_topics_file(path: Path) -> list[str]:
    """One topic per line; blank lines and lines starting with # are skipped. Errors name the line."""
    try:
        lines = path.read_text().splitlines()
    except OSError as exc:
        raise TopicError(f"{path}: cannot read it: {exc}") from exc
    topics = []
    for number, line in enumerate(lines, start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            topics.append(check_topic(line))
        except TopicError as exc:
            raise TopicError(f"{path}, line {number}: {exc}") from None
    return topics
