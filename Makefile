# All set-up happens here: `make serve` and `make test` work on a fresh machine.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

JS_CLIENT := tests/pds/js/node_modules/.installed
REFERENCE := tests/reference/node_modules/.installed

.PHONY: serve test lint bench clean reference

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(JS_CLIENT): tests/pds/js/package.json
	cd tests/pds/js && npm install --no-audit --no-fund --silent
	touch $(JS_CLIENT)

# the reference PDS and PLC (Node 22), for the interop test and bench/bench_pds_vs_reference.py
$(REFERENCE): tests/reference/package.json tests/reference/install.sh
	bash tests/reference/install.sh

serve: $(STAMP)
	$(BIN)/sonet serve

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: $(STAMP) $(JS_CLIENT) $(REFERENCE) lint
	$(BIN)/pytest

reference: $(REFERENCE)

bench: $(STAMP) $(REFERENCE)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) tests/pds/js/node_modules tests/reference/node_modules
