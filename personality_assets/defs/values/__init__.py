"""The value-alignment track, per batch (a ``value_batch`` partition): synthetic personas
(``value_personas``), their journal entries with follow-ups (``journal_entries``) and an LLM judge's
labels for the ten Schwartz values (``judge_labels``), written as parquet to the track's store in
the value-alignment system's published contract; ``judge_human_agreement`` compares the judge
with human annotations when there are any. Importing the package registers the track's purposes
with the offline simulator."""

from personality_assets.defs.values import simulate as _registers_the_track_purposes  # noqa: F401
