# Two commands: `make demo` (set up, then show last week's KPIs on sample data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKS := $(wildcard plugins/*/pyproject.toml)
# The packs' Python packages (plugins/kpicore-x/kpicore_x), for the type checker.
PACK_PACKAGES := $(filter-out %.egg-info,$(wildcard plugins/*/kpicore_*))

.PHONY: setup demo test lint typecheck faults bench dist clean

# `make setup` (and `make demo`) installs what kpicore and the packs need to run, nothing more;
# `make test` adds the test tools (pytest, hypothesis, aiosmtpd, pyarrow...) and PySpark.
setup: $(VENV)/.installed

# pip's and setuptools' chatter goes to $(VENV)/setup.log (shown only when the install fails).
$(VENV)/.installed: pyproject.toml $(PACKS)
	@echo "Installing kpicore and the packs into $(VENV) (about a minute; log in $(VENV)/setup.log)"
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/pip install --quiet --upgrade pip > $(VENV)/setup.log 2>&1 || { cat $(VENV)/setup.log; exit 1; }
	@$(BIN)/pip install --quiet -e '.[postgres,mysql]' $(foreach pack,$(PACKS),-e $(dir $(pack))) \
		>> $(VENV)/setup.log 2>&1 || { tail -n 40 $(VENV)/setup.log; exit 1; }
	@touch $@

demo: setup
	@$(BIN)/kpi demo

# The test tools on top of the runtime install.
$(VENV)/.test: $(VENV)/.installed pyproject.toml
	@echo "Installing the test tools into $(VENV) (log in $(VENV)/setup.log)"
	@$(BIN)/pip install --quiet -e '.[test,lint]' >> $(VENV)/setup.log 2>&1 || { tail -n 40 $(VENV)/setup.log; exit 1; }
	@touch $@

# The full PySpark for kpicore-spark (its wheel is built from source: about 1.5 min, 450 MB), so that the
# tests can start a local Spark Connect server; `make demo` does without it.
$(VENV)/.spark: $(VENV)/.test plugins/kpicore-spark/pyproject.toml
	@echo "Installing PySpark for the Spark tests (about 2 minutes; log in $(VENV)/setup.log)"
	@$(BIN)/pip install --quiet -e 'plugins/kpicore-spark[connect]' >> $(VENV)/setup.log 2>&1 \
		|| { tail -n 40 $(VENV)/setup.log; exit 1; }
	@touch $@

# Two pytest-xdist workers: much of the suite waits on real processes (schedules, leases, ticks), so two
# share a 2-core machine well. Tests that share one thing stay on one worker (tests/support/workers.py:
# the Spark server, Chromium, builds in the checkout); `make test TEST_WORKERS=0` runs them in one process.
TEST_WORKERS ?= 2
test: $(VENV)/.test $(VENV)/.spark
	$(BIN)/python -m pytest -q -n $(TEST_WORKERS) --dist loadgroup

# The linter, the formatter and the type checker (pyproject.toml configures them); CI runs it before the tests.
lint: $(VENV)/.test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/mypy $(PACK_PACKAGES)

# The type checker alone ([tool.mypy] in pyproject.toml), over kpicore and the packs; part of `lint`.
typecheck: $(VENV)/.test
	$(BIN)/mypy
	$(BIN)/mypy $(PACK_PACKAGES)

# The fault suite (tests/faults, not part of `make test`): real `kpi serve` processes against failing
# Slack, SMTP, disks and databases; prints the table of expected / delivered / duplicated / lost / unknown.
faults: $(VENV)/.test
	@rm -f tests/faults/results.json
	$(BIN)/python -m pytest tests/faults -q -p no:randomly -p no:cacheprovider
	@$(BIN)/python -m tests.faults.report

# kpicore against a hand-written SQL floor and pandas (docs/performance.md); SCALE customers = 10 x orders.
SCALE ?= 100000
SOURCE ?= sqlite
bench: setup $(if $(filter spark,$(SOURCE)),$(VENV)/.spark)
	$(BIN)/python benchmarks/run.py --scale $(SCALE) --source $(SOURCE) --repeat 3 --cli

# Wheels of kpicore and of every plugin, into $(DIST): `pip install dist/kpicore-0.1.0-py3-none-any.whl`
# installs kpicore anywhere, and a plugin's wheel beside it.
DIST ?= dist
dist: setup
	@rm -rf $(DIST)
	@$(BIN)/pip wheel --quiet --no-deps --wheel-dir $(DIST) . $(dir $(PACKS)) > $(VENV)/dist.log 2>&1 \
		|| { tail -n 40 $(VENV)/dist.log; exit 1; }
	@ls $(DIST)

clean:
	rm -rf $(VENV) dist kpi-demo.db kpi-state.db digest.html digest.slack.json digest.txt

# Translations: extract the messages, update kpicore/locale/*/LC_MESSAGES/kpicore.po, compile the .mo files.
.PHONY: i18n
i18n: setup
	$(BIN)/python -m kpicore.i18n.build
