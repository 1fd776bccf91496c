# Two commands do all the set-up on a fresh machine:
#   make book   - create .venv if missing, install everything, build the HTML book (executing every notebook)
#   make test   - create .venv if missing, install, run unit tests, nbval over every notebook (smoke), book build -W -n
# Also: make lab (JupyterLab on the notebooks), make install, make benchmarks, make clean.
#
# PROFILE selects the run profile (smoke | standard | full); empty = geolab's default
# (full with CUDA, standard on CPU). Example: make book PROFILE=smoke

SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.geolab-installed
PROFILE ?=
NBVAL_FLAGS := --nbval-lax --nbval-current-env --nbval-cell-timeout=600 -p no:cacheprovider

.PHONY: install book test unit nbval book-smoke lab benchmarks constraints clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar off -c constraints.txt -e ".[book,dev]"
	@touch $(STAMP)

book: $(STAMP)
	$(BIN)/python tools/book.py --profile "$(PROFILE)" --retries 1

test: unit nbval book-smoke

unit: $(STAMP)
	GEOLAB_PROFILE=smoke $(BIN)/python -m pytest tests

nbval: $(STAMP)
	GEOLAB_PROFILE=smoke $(BIN)/python -m pytest $(NBVAL_FLAGS) notebooks

book-smoke: $(STAMP)
	$(BIN)/python tools/book.py --profile smoke --strict --retries 1 --output _build/test

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

benchmarks: $(STAMP)
	@for b in benchmarks/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

constraints: $(STAMP)
	{ echo "# Exact versions CI installs (make install uses: pip install -c constraints.txt -e '.[book,dev]')."; \
	  echo "# Regenerate from a working .venv with: make constraints"; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -v -i -E "^(geolab|pip|setuptools|wheel)[=@ ]"; } > constraints.txt.new
	mv constraints.txt.new constraints.txt

clean:
	rm -rf _build
