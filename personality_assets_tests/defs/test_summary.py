"""The summary `make run` ends with: its tables fit SUMMARY_WIDTH characters and cut nothing."""

from sqlalchemy import insert

from personality_assets.db import migrate
from personality_assets.db.engine import dispose_engines, reference_transaction
from personality_assets.db.tables.reference import ReferencePopulation
from personality_assets.defs.cli import SUMMARY_WIDTH, summary
from personality_assets.defs.resources import ResearchDatabase


def test_the_summary_fits_its_width_and_shows_every_source_in_full(capsys):
    target = ResearchDatabase().target  # the default: research.sqlite in this test's data folder
    migrate.upgrade(target)
    sources = {
        "sample_random": "derived from sample: random baseline, each item drawn from its answers in sample (seed 7)",
        "survey_2024": "/home/someone/surveys/2024/" + "a_long_folder_name/" * 5 + "answers.csv",
    }
    with reference_transaction(target) as connection:
        for population, source in sources.items():
            row = dict(population=population, source=source, source_format="csv", synthetic=False)
            connection.execute(
                insert(ReferencePopulation),
                [{**row, "respondents": 300, "answers": 22200, "excluded_rows": 12, "excluded_people": 3}],
            )
    try:
        summary()
    finally:
        dispose_engines(target)
    printed = capsys.readouterr().out
    assert "Reference populations (2)" in printed
    for source in sources.values():
        assert source in printed
    table = [line for line in printed.splitlines() if line.startswith("|")]
    assert len(table) == 4  # header, rule, the two populations
    assert max(len(line) for line in table) <= SUMMARY_WIDTH
    assert "excluded_people" in table[0] and "| 12 " in table[2]
