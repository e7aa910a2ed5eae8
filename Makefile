# Two commands on a fresh machine: `make run` and `make test`. Everything else is optional.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/.dagster_home
# mkdocs 1.x prints a banner about its successor on every build otherwise.
export NO_MKDOCS_2_WARNING := 1
DAGSTER_CONFIG ?= dagster.yaml
# Steps run in the launching process itself: quicker for a handful of steps on a laptop.
IN_PROCESS := --config-json '{"execution":{"config":{"in_process":{}}}}'
# Runs one of the project's jobs (for one partition with --partition), so the UI lists each run
# under its job (reference_data, load_population, persona_study, reports).
LAUNCH := $(BIN)/dg launch -m personality_assets.definitions
DERIVED_POPULATIONS := sample_maxN sample_maxP sample_random
SAMPLE_POPULATIONS := sample $(DERIVED_POPULATIONS)
MODEL ?= simulated
# The sample study's presentation conditions (docs/robustness.md): the items as defined and in one
# seeded shuffle, the answer scale ascending and reversed, for MODEL and for ACQUIESCENT_MODEL (the
# simulator with a planted acquiescence); the derived populations keep the original presentation.
CONDITIONS := {"item_order":"shuffled","orders":1,"option_orders":["ascending","descending"]}
ACQUIESCENT_MODEL ?= simulated_acquiescent
# The value-alignment track's batch in make run (a value_batch partition).
VALUE_BATCH ?= sample_batch
# The essay track in make run: these topics, a balanced sample of ESSAYS_PER_TOPIC essays each,
# written by ESSAY_WRITER (a model key; the research and persona models stay simulated).
ESSAY_TOPICS ?= examples/essays/topics.txt
ESSAYS_PER_TOPIC ?= 40
ESSAY_WRITER ?= simulated
# Each step of install and run prints one line (a live status with a progress bar on a terminal);
# what the step's command prints goes to RUN_LOG, of which a failing step shows the end
# (personality_assets/make_step.py). `make run VERBOSE=1` shows the commands and their output too.
RUN_LOG ?= $(DAGSTER_HOME)/make-run.log
RUN_ID := $(shell echo $$PPID-$$(date +%s))
STEP = $(PYTHON) personality_assets/make_step.py --log $(RUN_LOG) --run $(RUN_ID) $(if $(VERBOSE),--verbose)
ifndef VERBOSE
.SILENT: $(BIN)/.installed instance-config sample-populations run
endif

.PHONY: install lock run test lint format docs docs-serve ui explorer validate clean instance-config sample-populations celery-workers celery-study celery-stop

# Installs the versions pinned in requirements.lock (the ones the suite last passed with).
$(BIN)/.installed: setup.py pyproject.toml requirements.lock
	$(STEP) "create $(VENV) with the latest pip" $(PYTHON) -m venv --upgrade-deps $(VENV)
	$(STEP) "install the pinned dependencies and the project into $(VENV) (pip)" $(BIN)/pip install -c requirements.lock -e ".[test]"
	touch $@

install: $(BIN)/.installed

# Re-resolve every dependency within setup.py's ranges and pin the result (then run `make test`
# and commit requirements.lock with the change). uv is installed into the venv on demand.
lock:
	test -x $(BIN)/uv || $(BIN)/pip install --quiet uv
	$(BIN)/uv pip compile setup.py --extra test --universal --python-version 3.11 --upgrade -o requirements.lock

# The instance's configuration: DAGSTER_CONFIG, copied whenever it differs from the one in use.
instance-config:
	mkdir -p $(DAGSTER_HOME)
	cmp -s $(DAGSTER_CONFIG) $(DAGSTER_HOME)/dagster.yaml || cp $(DAGSTER_CONFIG) $(DAGSTER_HOME)/dagster.yaml

# The questionnaires, the sample population and its derived populations (run and celery-study).
sample-populations: install instance-config
	$(STEP) "population partitions added" $(BIN)/python -m personality_assets.cli populations add $(SAMPLE_POPULATIONS)
	$(STEP) "questionnaires and the sample population loaded" $(LAUNCH) --job reference_data --partition sample $(IN_PROCESS)
	for population in $(DERIVED_POPULATIONS); do \
		$(STEP) "population $$population derived" $(LAUNCH) --job load_population --partition $$population $(IN_PROCESS) || exit 1; \
	done

# The main jobs on the embedded defaults: reference_data (the questionnaires and the sample
# population), load_population for its derived MaxN/MaxP and random-baseline populations, then
# persona_study (personas, registrations, answers, scores) with MODEL (default: the offline
# simulator) and ACQUIESCENT_MODEL, enabled as model partitions first, for each population (sample
# under CONDITIONS), so every partition of the study is filled; then reports; the value-alignment
# batch; the essay track for ESSAY_TOPICS; today's usage and its rollup; all into the SQLite
# research database and parquet under ./data.
run: sample-populations
	$(STEP) "model partitions added" $(BIN)/python -m personality_assets.cli models add $(MODEL) $(ACQUIESCENT_MODEL)
	for model in $(MODEL) $(ACQUIESCENT_MODEL); do \
		$(STEP) "persona study $$model|sample" $(LAUNCH) --job persona_study --partition "$$model|sample" --config-json \
			'{"execution":{"config":{"in_process":{}}},"ops":{"experiment_registrations":{"config":$(CONDITIONS)}}}' || exit 1; \
	done
	for model in $(MODEL) $(ACQUIESCENT_MODEL); do for population in $(DERIVED_POPULATIONS); do \
		$(STEP) "persona study $$model|$$population" $(LAUNCH) --job persona_study --partition "$$model|$$population" $(IN_PROCESS) || exit 1; \
	done; done
	# an example of external marginals for demographics_report (yours replace it; see README, Reports)
	test -e $${PERSONALITY_ASSETS_DATA_DIR:-data}/marginals.csv || cp examples/marginals/us_census_2020.csv $${PERSONALITY_ASSETS_DATA_DIR:-data}/marginals.csv
	$(STEP) "reports" $(LAUNCH) --job reports $(IN_PROCESS)
	$(STEP) "value batch partition added" $(BIN)/python -m personality_assets.cli batches add $(VALUE_BATCH)
	$(STEP) "value alignment $(VALUE_BATCH)" $(LAUNCH) --job value_alignment --partition $(VALUE_BATCH) $(IN_PROCESS)
	$(STEP) "essay topic partitions added" $(BIN)/python -m personality_assets.cli topics add --file $(ESSAY_TOPICS)
	$(STEP) "essay dimensions" $(LAUNCH) --assets essay_dimensions $(IN_PROCESS)
	grep -v '^#' $(ESSAY_TOPICS) | while IFS= read -r topic; do \
		$(STEP) "essays: $$topic" $(LAUNCH) --job essay_generation --partition "$$topic" --config-json \
			'{"execution":{"config":{"in_process":{}}},"ops":{"essay_personas":{"config":{"essays":$(ESSAYS_PER_TOPIC)}},"essays":{"config":{"writer_model":"$(ESSAY_WRITER)"}}}}' || exit 1; \
	done
	$(STEP) "usage of today (UTC) and its rollup" $(LAUNCH) --assets llm_usage,llm_usage_rollup --partition $$(date -u +%F) $(IN_PROCESS)
	$(STEP) --finished
	$(BIN)/python -m personality_assets.cli summary
	echo "Dagster runs and metadata: $(DAGSTER_HOME) -- browse them with 'make ui' (http://127.0.0.1:3000),"
	echo "  and every prompt and reply behind them in the results explorer it serves beside (http://127.0.0.1:3001)"

# Formatting, lint and the docs first (a drift or a broken link fails CI), then the suite on every core.
test: install lint docs
	$(BIN)/python -m pytest -n auto

# The documentation site (docs/, mkdocs.yml) into site/; strict, so a broken link or an unlisted page fails.
docs: install
	$(BIN)/mkdocs build --strict --quiet

docs-serve: install
	$(BIN)/mkdocs serve --strict -a 127.0.0.1:8000

lint: install
	$(BIN)/ruff format --check .
	$(BIN)/ruff check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The Dagster UI on :3000 with the results explorer beside it on :3001 (stopped with the UI).
ui: install instance-config
	$(BIN)/python -m personality_assets.explorer & explorer=$$!; \
	trap 'kill $$explorer 2>/dev/null' EXIT INT TERM; \
	$(BIN)/dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000

# The results explorer alone (read-only, over the research database): http://127.0.0.1:3001
explorer: install
	$(BIN)/python -m personality_assets.explorer

# Past one machine (docs/scale.md): Celery workers in the background, then the study
# of each sample population on them at once. Needs the PostgreSQL instance (DAGSTER_CONFIG=
# dagster.scale.yaml with DAGSTER_PG_*), RabbitMQ and Redis as celery.yaml says, and
# PERSONALITY_ASSETS_REDIS_URL for the shared rate limiter; the workers need the same environment.
CELERY_WORKERS ?= 2
celery-workers: install instance-config
	for i in $$(seq 1 $(CELERY_WORKERS)); do \
		PATH=$(CURDIR)/$(BIN):$$PATH $(BIN)/dagster-celery worker start -A dagster_celery.app -y celery.yaml \
			-n personality_assets_$$i --background -- --concurrency 1 --logfile $(DAGSTER_HOME)/celery_$$i.log || exit 1; \
	done
	@echo "$(CELERY_WORKERS) Celery workers started (logs: $(DAGSTER_HOME)/celery_*.log); stop them with 'make celery-stop'"

celery-study: sample-populations
	$(BIN)/python -m personality_assets.cli models add $(MODEL)
	pids=""; for population in $(SAMPLE_POPULATIONS); do \
		$(LAUNCH) --job persona_study_celery --partition "$(MODEL)|$$population" --config celery.yaml & \
		pids="$$pids $$!"; \
	done; \
	failed=0; for pid in $$pids; do wait $$pid || failed=1; done; exit $$failed
	$(BIN)/python -m personality_assets.cli summary

celery-stop: install instance-config
	$(BIN)/dagster-celery worker terminate --all -y celery.yaml

validate: install
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/dg check defs

clean:
	rm -rf $(VENV) $(DAGSTER_HOME) data site
