# Two commands: `make demo` (set up, then show last week's KPIs on sample data) and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PACKS := $(wildcard plugins/*/pyproject.toml)

.PHONY: setup demo test clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(PACKS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test,postgres]' $(foreach pack,$(PACKS),-e $(dir $(pack)))
	touch $@

demo: setup
	$(BIN)/kpi demo

test: setup
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) kpi-demo.db kpi-state.db digest.html digest.slack.json digest.txt
