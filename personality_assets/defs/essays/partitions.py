"""The essay track's partitions: one per essay topic, the key being the topic's text (e.g. "Should
college tuition be free?")."""

from personality_assets.defs.essays.topics import TopicError, check_topic
from personality_assets.defs.partitions import dynamic_partitions


def _topic_problem(key: str) -> str | None:
    try:
        check_topic(key)
    except TopicError as exc:
        return str(exc)
    return None


essay_topic_partitions = dynamic_partitions(
    "essay_topic", "topic", _topic_problem, 'python -m personality_assets.cli topics add "TOPIC"'
)
