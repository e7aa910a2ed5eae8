"""The value-alignment track's prompts: the persona, each journal entry (seeing the earlier ones),
the follow-up nudge and its answer, and the judge. The judge sees the session between markers so
the simulator (and a reader of the stored requests) can find it."""

from __future__ import annotations

from personality_assets.defs.values.contract import VALUE_NAMES
from personality_assets.defs.values.pools import EntryStyle, PersonaDraft, Pools
from personality_assets.defs.values.replies import SCHWARTZ_VALUES

SESSION_START, SESSION_END = "<<<SESSION", "SESSION>>>"
EARLIER_IN_FULL = 3  # the last entries shown whole; older ones by title only


def core_value_names(persona: PersonaDraft) -> str:
    return " and ".join(VALUE_NAMES[value] for value in persona.core_values)


def persona_prompt(persona: PersonaDraft) -> str:
    return (
        "Invent a realistic person who will keep a private journal. Attributes: "
        f"age {persona.age}, profession {persona.profession}, cultural background {persona.culture}; "
        f"what they care about most (Schwartz values): {core_value_names(persona)}. "
        'Reply with only a JSON object {"name": <full name>, "background": <3-5 sentences about their '
        "life, work and relationships, consistent with the attributes and values; do not name the values>}."
    )


def journal_messages(
    persona: PersonaDraft,
    name: str,
    background: str,
    entry_date: str,
    style: EntryStyle,
    earlier: list[dict],
) -> tuple[tuple[str, str], ...]:
    """The persona writes entry t, having written ``earlier`` (dicts with date, title, entry)."""
    system = (
        f"You are {name}. {background} You keep a private journal and write in the first person, in your own "
        "voice, about concrete things that happened and how you feel about them. Never mention values by name."
    )
    if earlier:
        shown = earlier[-EARLIER_IN_FULL:]
        older = earlier[:-EARLIER_IN_FULL]
        history = "".join(f"- {e['date']}: {e['title']}\n" for e in older) + "".join(
            f"--- {e['date']}: {e['title']}\n{e['entry']}\n" for e in shown
        )
        history = f"Your earlier entries, oldest first:\n{history}\n"
    else:
        history = "This is the first entry of your journal.\n"
    low, high = style.words
    user = (
        f"{history}Write the journal entry for {entry_date}. Tone: {style.tone}. Length: {low}-{high} words. "
        f"Reflection: {style.reflection_mode}. Continue your life where the earlier entries left it. "
        'Reply with only a JSON object {"title": <a few words>, "entry": <the entry>}.'
    )
    return (("system", system), ("user", user))


def nudge_prompt(entry: str, kinds: list[str]) -> str:
    return (
        "You are a gentle journaling companion. Read the entry below and decide whether one short follow-up "
        f"question would help the writer reflect (kinds: {', '.join(kinds)}: clarifying what happened, inviting "
        "more detail, or surfacing a tension between things they want). Ask only when it adds something. "
        'Reply with only a JSON object {"ask": true|false, "kind": <kind or null>, "question": <question or null>}.'
        f"\n\nEntry:\n{entry}"
    )


def nudge_answer_messages(journal: tuple[tuple[str, str], ...], entry: str, question: str):
    """The persona, having written ``entry``, answers the follow-up in a few words."""
    return (
        journal[0],
        (
            "user",
            f"You just wrote this journal entry:\n{entry}\n\nYour journaling companion asks: {question}\n"
            "Answer in one to three sentences, honestly, as yourself: answer it, deflect it, or reveal something. "
            'Reply with only a JSON object {"answer": <your answer>}.',
        ),
    )


def session_text(entry: str, question: str | None, answer: str | None) -> str:
    """What the judge labels: the entry, and the follow-up exchange when there was one."""
    parts = [entry]
    if question:
        parts.append(f"Follow-up question: {question}")
        if answer:
            parts.append(f"Writer's answer: {answer}")
    return "\n\n".join(parts)


def judge_prompt(pools: Pools, session: str) -> str:
    values = "\n".join(f"- {value} ({VALUE_NAMES[value]}): {pools.values[value]}" for value in SCHWARTZ_VALUES)
    return (
        "You label journal sessions for the ten Schwartz values. For each value score the session +1 if what the "
        "writer does or says actively supports the value, -1 if it conflicts with it, 0 if the session says nothing "
        "about it (most values are 0 for most sessions).\n"
        f"{values}\n\n"
        "Reply with only a JSON object with one key per value (the identifiers above), each -1, 0 or 1, and "
        '"rationales": an object giving, for every value you scored -1 or 1, one sentence quoting or pointing at the '
        "evidence.\n\n"
        f"{SESSION_START}\n{session}\n{SESSION_END}"
    )
