# Two commands do all the set-up on a fresh machine:
#   make book   - create .venv if missing, install everything, build the HTML book (executing every notebook)
#   make test   - create .venv if missing, install, then: lint (ruff + mypy), unit tests, nbval over every
#                 notebook (smoke), strict book build (-W -n), offline browser check of the built pages
# Also: make test-full (every notebook in the full profile), make check-html, make lab, make install,
# make benchmarks, make constraints, make clean.
#
# PROFILE selects the run profile (smoke | standard | full); empty = geolab's default
# (see geolab.runtime.profile). Example: make book PROFILE=smoke
#
# make test never touches the user's cache: every step gets a fresh, empty GEOLAB_DATA and
# TORCH_HOME (a temporary folder, removed afterwards).

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.geolab-installed
PROFILE ?=
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider
TEST_BOOK := _build/test
# Run a command with an empty, temporary data folder and torch cache: $(call isolated,command)
isolated = d=$$(mktemp -d -t geolab-test.XXXXXX); \
	GEOLAB_DATA=$$d/data TORCH_HOME=$$d/torch $(1); rc=$$?; rm -rf "$$d"; exit $$rc

.PHONY: install book test lint unit nbval book-smoke check-html check-html-if-browser test-full lab \
	benchmarks constraints clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -c constraints.txt -e ".[book,dev]"
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/python tools/book.py --profile "$(PROFILE)" --retries 1

test: lint unit nbval book-smoke check-html-if-browser

lint: $(STAMP)
	$(BIN)/ruff check geolab tests tools benchmarks conftest.py
	$(BIN)/mypy

unit: $(STAMP)
	$(call isolated,GEOLAB_PROFILE=smoke $(BIN)/python -m pytest tests)

nbval: $(STAMP)
	$(call isolated,GEOLAB_PROFILE=smoke $(BIN)/python -m pytest $(NBVAL_FLAGS) notebooks)

book-smoke: $(STAMP)
	$(call isolated,$(BIN)/python tools/book.py --profile smoke --strict --retries 1 --output $(TEST_BOOK))

# Open the pages of the book built by book-smoke in headless Chromium with the network off.
check-html: $(STAMP)
	$(BIN)/python tools/check_html.py $(TEST_BOOK)/_build/html

check-html-if-browser: $(STAMP)
	@if $(BIN)/python tools/check_html.py --find-browser >/dev/null 2>&1; then \
		$(MAKE) --no-print-directory check-html; \
	else \
		echo "SKIPPED check-html: no Chromium found (apt-get install chromium, or set CHROMIUM=/path/to/chrome)"; \
	fi

# Every notebook in the full profile, with each notebook's time; lessons whose full sizes need a
# GPU are reported as SKIPPED (with the reason) on a machine without one.
# A full-size cell may run longer than smoke's 10-minute cell limit on a CPU: allow 30 minutes.
test-full: $(STAMP)
	$(call isolated,GEOLAB_PROFILE=full $(BIN)/python -m pytest $(NBVAL_FLAGS) --nbval-cell-timeout=1800 -rs notebooks)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

constraints: $(STAMP)
	{ echo "# Exact versions CI installs (make install uses: pip install -c constraints.txt -e '.[book,dev]')."; \
	  echo "# Regenerate from a working .venv with: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E "^(geolab|pip|wheel)[=@ ]"; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf _build
