# Two commands for a newcomer: `make run` and `make test`. Everything they need is installed here.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test check bench soak soak-short clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# Links in feeds and pages point at the local server, so every link works from a browser on this machine.
run: install
	FEEDSERVICE_BASE_URL=http://127.0.0.1:8000 $(BIN)/feedservice serve --store data/articles.json --host 127.0.0.1 --port 8000

test: install
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

bench: install
	$(BIN)/python bench/run.py

# Load and faults against a 100,000-article store (60 s); soak-short is the form CI runs.
soak: install
	$(BIN)/python bench/soak.py

soak-short: install
	$(BIN)/python bench/soak.py --short --no-results

check: install
	$(BIN)/feedservice check-store data/articles.json
	$(BIN)/feedservice validate

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
