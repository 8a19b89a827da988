# One venv (.venv) holds everything; every target sets it up first, so each works on a fresh machine.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: install system-packages demo test lint typecheck format bench wheel clean dashboards

# A venv that failed half-way (a bare Debian's python3 has no ensurepip) is removed, so the next run retries.
$(STAMP): pyproject.toml
	@test -x $(BIN)/python || ./scripts/check-python $(PY)
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || { rm -rf $(VENV); \
	  echo "$(PY) -m venv failed: on Debian/Ubuntu install python3-venv (as root: ./scripts/system-packages)" >&2; \
	  exit 1; }
	@echo "installing costline and its dependencies into $(VENV) (first run, and after pyproject.toml changes)..."
	$(BIN)/python -m pip install --upgrade pip uv
	$(BIN)/uv pip install --python $(BIN)/python -e '.[dev,bench,peers,frameworks]'
	@rm -f $(VENV)/.installed-* && touch $@

# system-packages first: on a bare Debian it installs python3-venv, which creating .venv needs.
install: system-packages $(STAMP)

system-packages:
	./scripts/system-packages

demo: $(STAMP)
	$(BIN)/costline demo

test: install
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: install
	mkdir -p bench/results
	for b in instrumentation peers budget_guard pricing ledger processor; do \
	  $(BIN)/python bench/bench_$$b.py --out bench/results/$$b.json || exit 1; done

# Regenerate dashboards/*.json, the rule file and provisioning from dashboards/*.py (tests check they match).
dashboards: $(STAMP)
	$(BIN)/python -m dashboards.generate

wheel: $(STAMP)
	$(BIN)/python -m build --wheel --outdir dist .

clean:
	rm -rf $(VENV) dist build .mypy_cache .ruff_cache
