# Two entry points: `make demo` (main job on the shipped sample data) and `make test`;
# `make notebooks` opens the notebooks in JupyterLab.
# Both create .venv from a Python >= 3.12 on first use and install the project into it.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
OUT ?= demo_output

# Find an interpreter >= 3.12: $(PYTHON) if given, else python3.12, else python3.
PYTHON ?= $(shell for p in python3.13 python3.12 python3; do \
	  command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null && { echo $$p; break; }; \
	done)

.PHONY: demo demo-fr test notebooks lint typecheck i18n venv clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "error: fl_estimate needs Python >= 3.12 (python3.12 not found; pyenv reads .python-version)"; exit 1; fi
	@echo "creating $(VENV) with $$($(PYTHON) --version) ..."
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/fl-estimate run data_samples/country.toml --out $(OUT)

# The francophone sample country (synthetic), report in French: demo_output_fr/report.html, and
# its periodic IC-TIP statistics in demo_output_fr/statistics/ (the config's [stats] table)
demo-fr: $(STAMP)
	$(VENV)/bin/fl-estimate run data_samples/pays.toml --out demo_output_fr

test: $(STAMP)
	$(PY) -m pytest -n 2 --dist loadfile -q

# JupyterLab (the .[notebooks] extra) on notebooks/; the committed notebooks show their outputs
notebooks: $(STAMP)
	$(PY) -m pip install --quiet -e ".[notebooks]"
	$(VENV)/bin/jupyter lab notebooks/

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/ruff format --check src tests benchmarks

# Message catalogs: extract the strings, update the .po files, compile the .mo (docs/i18n.md).
i18n: $(STAMP)
	$(PY) -m fl_estimate.i18n.catalogs

typecheck: $(STAMP)
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) $(OUT)
