from setuptools import find_namespace_packages, setup

setup(
    name="personality_assets",
    version="0.1.0",
    description="LLM persona research as reproducible Dagster assets",
    python_requires=">=3.11",
    # Every folder of the package is a package (the migration histories and the questionnaire
    # definitions are folders without __init__.py), shipped with its data files.
    packages=find_namespace_packages(include=["personality_assets", "personality_assets.*"], exclude=["*.__pycache__"]),
    package_data={"": ["*.yaml", "*.toml", "*.csv", "*.mako", "*.html"]},
    install_requires=[
        "dagster==1.13.*",
        "dagster-webserver==1.13.*",
        # Dagster's own PostgreSQL storage (psycopg2); the research database uses psycopg 3 for COPY.
        "dagster-postgres>=0.29,<0.30",
        "sqlalchemy>=2.0.36,<2.2",
        "psycopg[binary]>=3.2,<4",
        "alembic>=1.14",
        # We write parquet ourselves (no dagster-polars IO manager), so polars 2 is fine.
        "polars>=1.30,<3",
        "numpy>=1.26",
        "pyyaml>=6",
        "openai>=1.50",
        "boto3>=1.35",
        # The value-alignment store's lock beside a local file that several processes update.
        "filelock>=3.13",
        "tenacity>=8.2",
        # A faster event loop for the call engine (less CPU per call); the engine runs without it too.
        "uvloop>=0.19; sys_platform != 'win32'",
        "pydantic>=2.6",
        # Statistics of the research reports: Welch's t and its CI (scipy), Holm correction (statsmodels).
        "scipy>=1.11",
        "statsmodels>=0.14",
        # The robustness report's intraclass correlations, ICC(3,1) and ICC(2,1) with their CIs.
        "pingouin>=0.5",
        # Krippendorff's alpha (nominal, ordinal) of the value-alignment judge beside its kappas.
        "krippendorff>=0.9,<1",
        # The reliability report's omega total: the one-factor ML model (FactorAnalysis).
        "scikit-learn>=1.2",
        # The HTML report's LaTeX tables (pandas' Styler.to_latex, which renders with jinja2); both
        # already come with statsmodels and dagster, named here because the report uses them directly.
        "pandas>=2.0",
        "jinja2>=3.1",
        # The reports' figures (PNG, no display needed).
        "matplotlib>=3.8",
        # The shared rate limiter (PERSONALITY_ASSETS_REDIS_URL): Lua scripts through redis.asyncio.
        "redis>=6.4,<9",
        # The persona_study_celery job: steps on Celery workers (RabbitMQ broker, Redis results).
        "dagster-celery>=0.29,<0.30",
        # The results explorer: server-rendered pages (Jinja2) on Starlette under uvicorn, the stack
        # Dagster's own webserver runs on.
        "starlette>=0.40",
        "uvicorn>=0.30",
        # The command line: a Typer app per track.
        "typer>=0.29,<0.30",
    ],
    extras_require={
        # dagster-dg-cli: `dg check defs`, `dg list defs`, `dg launch`; ruff: format and lint, run by make test
        # playwright: drives Debian's chromium in the UI test (no browser download).
        "test": [
            "pytest>=8",
            "pytest-xdist>=3.5",
            "aiohttp>=3.9",
            "syrupy>=4.6",
            "ruff>=0.8",
            "dagster-dg-cli==1.13.*",
            "playwright>=1.40",
            # The value-alignment store's S3 tests: moto's S3 server on 127.0.0.1 (put_object with IfMatch: moto 5.2 has it).
            "moto[server]>=5.2",
            # The documentation site (make docs, built --strict by make test).
            "mkdocs>=1.6,<2",
            "mkdocs-material>=9.5,<10",
            # The second implementation of the one-factor model the omega tests compare with.
            "factor_analyzer>=0.5",
        ]
    },
)
