"""The results explorer: a read-only web app over the research database and the parquet files,
served beside the Dagster UI (``make ui``) or on its own (``make explorer``). ``queries.py`` knows
no web framework; ``app.py`` is the Starlette app that renders its answers as HTML."""
