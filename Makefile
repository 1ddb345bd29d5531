# Development tasks of the pve.firewall collection.  `make help` lists them.
#
# Everything runs from a virtualenv in .venv built from the pinned files in requirements/
# (requirements/constraints.txt locks every transitive dependency on Python 3.11,
# requirements/constraints-py3.12.txt and -py3.13.txt on those).  Build trees live in .build;
# `make clean` removes both.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
comma := ,
MAKEFLAGS += --no-print-directory

# The Python versions this project supports (ansible-core 2.19's controller range), each with a
# lock file: requirements/constraints.txt for 3.11, requirements/constraints-py<X.Y>.txt for the
# others (tests/unit/tools/test_lock_files.py and `make lock-check` hold them to this list).
PYTHON_VERSIONS := 3.11 3.12 3.13
# The interpreter: python3 when it is a supported version (Debian 12: 3.11, Debian 13: 3.13),
# else the first of python3.13, python3.12, python3.11 that runs (a pyenv shim of a version
# that is not selected does not).  The real interpreter, not a shim.  PYTHON=... overrides.
PYTHON ?= $(shell for p in python3 python3.13 python3.12 python3.11; do \
  $$p -c 'import sys; v = "%d.%d" % sys.version_info[:2]; ok = v in "$(PYTHON_VERSIONS)".split(); ok and print(sys.executable); sys.exit(not ok)' 2>/dev/null && break; done)
# X.Y of $(PYTHON), empty when there is none
PYTHON_MINOR := $(if $(PYTHON),$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null))
# The lock file of that version (constraints.txt is 3.11's)
constraints_of = requirements/constraints$(if $(filter-out 3.11,$(1)),-py$(1)).txt
CONSTRAINTS := $(call constraints_of,$(PYTHON_MINOR))
PIP_VERSION := 25.3

# Stops a recipe unless $(PYTHON) is a supported version with venv (Debian: python3-venv)
define check_python
	@if [ -z '$(PYTHON)' ]; then echo "no Python $(PYTHON_VERSIONS) found as python3, python3.13, python3.12 or python3.11: install one (Debian 12 and 13: apt-get install python3 python3-venv) or set PYTHON=..."; exit 1; fi
	@$(PYTHON) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; sys.exit(0 if v in "$(PYTHON_VERSIONS)".split() else "$(PYTHON) is Python %s; this project supports Python $(PYTHON_VERSIONS) (set PYTHON=...)" % v)'
	@$(PYTHON) -c 'import ensurepip, venv' 2>/dev/null || { echo "$(PYTHON) cannot create virtualenvs: install python3-venv (Debian: apt-get install python3-venv)"; exit 1; }
endef

VENV := $(CURDIR)/.venv
# named after the Python version, so that another interpreter rebuilds .venv
VENV_STAMP := $(VENV)/.requirements-installed-py$(PYTHON_MINOR)
PY := $(VENV)/bin/python
# $(wildcard): an unsupported version has no lock file; check_python names the supported ones
REQUIREMENTS := requirements/runtime.txt requirements/test.txt $(wildcard $(CONSTRAINTS))

BUILD := $(CURDIR)/.build
# ansible_collections/pve/firewall -> repository root: for pytest, ansible-doc, ansible-playbook
COLLECTION_LINK := $(BUILD)/ansible_collections/pve/firewall
# A real copy of the collection's files, for ansible-test (which refuses symlinked roots)
SANITY_ROOT := $(BUILD)/sanity/ansible_collections/pve/firewall
RESULTS := $(BUILD)/test-results

export PATH := $(VENV)/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(BUILD)
export PYTHONDONTWRITEBYTECODE := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1

# Print a layer header: $(call header,NAME,WHAT)
header = @printf '\n==> %s: %s\n' '$(1)' '$(2)'

# Test layers of `make test`, in the order they run
LAYERS := unit conformance integration sanity lint changelog galaxy

.PHONY: help print-python venv lock lock-check collection dist test $(addprefix test-,$(LAYERS)) bench-compiler bench-verdict demo clean docs docsite-guides

help:  ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/^([a-z-]+):.*## (.*)/  make \1\t\2/' | expand -t 26

# ---------------------------------------------------------------------------------------------
# Environment

print-python:  ## say which Python make uses (python3 if 3.11-3.13, else python3.13, 3.12, 3.11; PYTHON=...)
	@echo "python: $(or $(PYTHON),none of $(PYTHON_VERSIONS) found) $(if $(PYTHON_MINOR),($(PYTHON_MINOR); lock file $(CONSTRAINTS)))"

venv: $(VENV_STAMP)  ## create .venv with the pinned requirements (again only when they change)

$(VENV_STAMP): $(REQUIREMENTS)
	$(call header,venv,$(PYTHON) -m venv .venv + requirements/test.txt -c $(CONSTRAINTS))
	$(check_python)
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet pip==$(PIP_VERSION)
	$(PY) -m pip install --quiet -c $(CONSTRAINTS) -r requirements/test.txt
	$(PY) -m pip check
	@touch $@

# 3.11's lock is resolved afresh; another version's is resolved under 3.11's lock, so that every
# package both need has the same version, and only what that version alone needs is new.
# `make lock PYTHON=python3.12` locks 3.12.  Change 3.11's lock first, then the others.
lock:  ## re-resolve requirements/test.txt for the Python version (PYTHON=...) and rewrite its lock file
	$(call header,lock,resolve requirements/test.txt on Python $(PYTHON_MINOR) into $(CONSTRAINTS))
	$(check_python)
	rm -rf $(BUILD)/lock-venv
	$(PYTHON) -m venv $(BUILD)/lock-venv
	$(BUILD)/lock-venv/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BUILD)/lock-venv/bin/python -m pip install --quiet $(if $(filter-out 3.11,$(PYTHON_MINOR)),-c requirements/constraints.txt) -r requirements/test.txt
	{ echo '# Lock file of every package in .venv, generated by `make lock` from requirements/test.txt'; \
	  echo '# on Python $(PYTHON_MINOR)$(if $(filter-out 3.11,$(PYTHON_MINOR)),$(comma) under the versions of requirements/constraints.txt (3.11)): edit requirements/*.txt, never this file.'; \
	  $(BUILD)/lock-venv/bin/python -m pip freeze --all --exclude pip --exclude setuptools --exclude wheel; \
	} > $(CONSTRAINTS)
	rm -rf $(BUILD)/lock-venv
	@echo "$(CONSTRAINTS) rewritten"

# Every lock file against PyPI, for its own Python version (with that interpreter when one is
# found, else pip's --python-version): requirements/test.txt resolves within it from wheels for
# that version, and the docs and galaxy-importer pins install there too.  Needs PyPI only;
# about a minute, so .ci/run runs it once rather than every `make test`.
lock-check: venv  ## check that each Python version's lock file resolves on PyPI for that version
	$(call header,lock-check,each lock file resolves for its Python version: $(PYTHON_VERSIONS))
	$(PY) tools/lock_check.py $(PYTHON_VERSIONS)

# antsibull-docs, Sphinx and m2r2 in a virtualenv of their own (Sphinx needs an older docutils
# than .venv pins): the docs checks of test-lint, `make docs`, `make docsite-guides`
DOCS_VENV := $(BUILD)/docs-venv
DOCS_STAMP := $(DOCS_VENV)/.requirements-installed-py$(PYTHON_MINOR)

$(DOCS_STAMP): requirements/docs.txt
	$(call header,docs-venv,$(PYTHON) -m venv .build/docs-venv + requirements/docs.txt)
	$(check_python)
	rm -rf $(DOCS_VENV)
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	$(DOCS_VENV)/bin/python -m pip install --quiet --no-deps -r requirements/docs.txt
	$(DOCS_VENV)/bin/python -m pip check
	@touch $@

# galaxy-importer in a virtualenv of its own (it needs an older attrs than .venv pins)
GALAXY_VENV := $(BUILD)/galaxy-importer-venv
GALAXY_STAMP := $(GALAXY_VENV)/.requirements-installed-py$(PYTHON_MINOR)

$(GALAXY_STAMP): requirements/galaxy-importer.txt
	$(call header,galaxy-venv,$(PYTHON) -m venv .build/galaxy-importer-venv + requirements/galaxy-importer.txt)
	$(check_python)
	rm -rf $(GALAXY_VENV)
	$(PYTHON) -m venv $(GALAXY_VENV)
	$(GALAXY_VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	$(GALAXY_VENV)/bin/python -m pip install --quiet --no-deps -r requirements/galaxy-importer.txt
	$(GALAXY_VENV)/bin/python -m pip check
	@touch $@

# ansible-builder in a virtualenv of its own: tests/integration/test_execution_environment.py
# runs `ansible-builder create` (the build context of the execution environment) with it
BUILDER_VENV := $(BUILD)/ansible-builder-venv
BUILDER_STAMP := $(BUILDER_VENV)/.requirements-installed-py$(PYTHON_MINOR)

$(BUILDER_STAMP): requirements/ansible-builder.txt
	$(call header,builder-venv,$(PYTHON) -m venv .build/ansible-builder-venv + requirements/ansible-builder.txt)
	$(check_python)
	rm -rf $(BUILDER_VENV)
	$(PYTHON) -m venv $(BUILDER_VENV)
	$(BUILDER_VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	$(BUILDER_VENV)/bin/python -m pip install --quiet --no-deps -r requirements/ansible-builder.txt
	$(BUILDER_VENV)/bin/python -m pip check
	@touch $@

# ---------------------------------------------------------------------------------------------
# Collection trees

collection:  ## lay out .build/ansible_collections/pve/firewall (symlink) and the ansible-test copy
	@mkdir -p $(dir $(COLLECTION_LINK))
	@if [ ! -L $(COLLECTION_LINK) ] || [ "$$(readlink -f $(COLLECTION_LINK))" != "$$(readlink -f $(CURDIR))" ]; then \
	  rm -rf $(COLLECTION_LINK); ln -s $(CURDIR) $(COLLECTION_LINK); fi
	@rm -rf $(SANITY_ROOT) && mkdir -p $(SANITY_ROOT)
	@# tracked files plus untracked files that .gitignore does not exclude, less deleted ones
	@git ls-files -z --cached --others --exclude-standard --deduplicate \
	  | while IFS= read -r -d '' f; do [ -e "$$f" ] && printf '%s\0' "$$f"; done \
	  | tar --null --no-recursion -T - -cf - | tar -xf - -C $(SANITY_ROOT)
	@# ansible-test lists a collection's files with git when it finds a .git on the way up; the
	@# copy sits in .build, which the repository ignores, so it gets a repository of its own.
	@git -C $(SANITY_ROOT) init --quiet
	@echo "collection: $(COLLECTION_LINK) -> $(CURDIR); ansible-test copy in $(SANITY_ROOT)"
	@echo "            (ANSIBLE_COLLECTIONS_PATH=$(BUILD) finds pve.firewall)"

dist: venv  ## build the collection tarball into .build/dist (honours build_ignore)
	$(call header,dist,ansible-galaxy collection build)
	rm -rf $(BUILD)/dist
	ansible-galaxy collection build --output-path $(BUILD)/dist .

# ---------------------------------------------------------------------------------------------
# Tests

# Each layer's start and end (epoch seconds) go to times.txt: the summary shows its wall time.
test: venv collection  ## run every test layer; fails if any layer fails or no test ran
	@rm -rf $(RESULTS) && mkdir -p $(RESULTS)
	@failed=0; for layer in $(LAYERS); do \
	  start=$$(date +%s.%N); \
	  if $(MAKE) test-$$layer; then status=ok; else status=FAILED; failed=1; fi; \
	  echo "$$layer $$start $$(date +%s.%N)" >> $(RESULTS)/times.txt; \
	  echo "$$layer $$status" >> $(RESULTS)/layers.txt; \
	done; \
	$(PY) tools/test_layers.py summary || failed=1; \
	exit $$failed

# pytest-xdist: the integration tests are independent of each other (every emulator listens on
# loopback addresses of its own, every file goes to a temporary directory) and mostly wait (on
# ansible-playbook, on sockets, on the emulator's clock), so they run in $(PYTEST_WORKERS)
# processes (auto: one per CPU; PYTEST_WORKERS=0 runs them in this one).  worksteal: an idle
# process takes tests queued for a busy one, so a few slow tests do not leave one process working
# alone at the end.  The unit tests keep to one process: they are CPU-bound and short, and two
# processes each importing and collecting them took longer on 2 busy cores (37 s, not 28 s).
PYTEST_WORKERS ?= auto
PYTEST_PARALLEL := -n $(PYTEST_WORKERS) $(if $(filter 0,$(PYTEST_WORKERS)),,--dist worksteal)

test-unit: venv collection  ## pytest tests/unit
	$(call header,unit,pytest tests/unit)
	@$(PY) tools/test_layers.py pytest unit tests/unit $(PYTEST_ARGS)

test-conformance: venv collection  ## pytest tests/conformance (reads ../shared)
	$(call header,conformance,pytest tests/conformance)
	@$(PY) tools/test_layers.py pytest conformance tests/conformance $(PYTEST_ARGS)

test-integration: venv collection $(BUILDER_STAMP)  ## pytest tests/integration, in parallel (PYTEST_WORKERS=auto)
	$(call header,integration,pytest -n $(PYTEST_WORKERS) tests/integration)
	@ANSIBLE_BUILDER=$(BUILDER_VENV)/bin/ansible-builder $(PY) tools/test_layers.py pytest integration tests/integration $(PYTEST_PARALLEL) $(PYTEST_ARGS)

test-sanity: venv collection  ## ansible-test sanity on the Python of .venv, no ignore entries allowed
	$(call header,sanity,ansible-test sanity --local --python $(PYTHON_MINOR))
	@# Ignore files are not allowed to hide sanity findings.
	@if compgen -G 'tests/sanity/ignore-*.txt' >/dev/null && grep -vhE '^[[:space:]]*(#|$$)' tests/sanity/ignore-*.txt; then \
	  echo "tests/sanity/ignore-*.txt must stay empty: fix the findings above instead"; exit 1; fi
	@$(PY) tools/ansible_test_get_pip.py
	cd $(SANITY_ROOT) && ansible-test sanity --local --python $(PYTHON_MINOR) --color no

test-lint: venv collection $(DOCS_STAMP)  ## ruff, mypy, the module_utils layers, ansible-lint (production profile), the action group, the docs
	$(call header,lint,ruff + mypy + check_layers + ansible-lint --profile production + antsibull-docs lint)
	ruff check plugins tools tests
	ruff format --check --diff plugins/module_utils tools
	mypy --config-file pyproject.toml -p ansible_collections.pve.firewall.plugins
	$(PY) tools/check_layers.py
	ansible-lint
	$(PY) tools/check_action_group.py
	$(DOCS_VENV)/bin/python tools/docsite_guides.py --check
	PATH=$(DOCS_VENV)/bin:$$PATH antsibull-docs lint-collection-docs --plugin-docs --check-extra-docs-refs .

test-changelog: venv  ## antsibull-changelog lint, and CHANGELOG.rst as changelogs/changelog.yaml generates it
	$(call header,changelog,antsibull-changelog lint + generate)
	antsibull-changelog lint
	antsibull-changelog lint-changelog-yaml changelogs/changelog.yaml
	mkdir -p .build && antsibull-changelog generate --output .build/CHANGELOG.rst --output-format rst
	@diff -u CHANGELOG.rst .build/CHANGELOG.rst || { echo "CHANGELOG.rst is not what changelogs/changelog.yaml generates: run antsibull-changelog generate"; exit 1; }

test-galaxy: $(GALAXY_STAMP) dist  ## galaxy-importer on the make dist tarball: fails on an ERROR, a lint or flake8 finding
	$(call header,galaxy,galaxy-importer on .build/dist/pve-firewall-*.tar.gz)
	$(GALAXY_VENV)/bin/python tools/galaxy_import.py $(BUILD)/dist/pve-firewall-*.tar.gz

# ---------------------------------------------------------------------------------------------
# Documentation

docs: collection $(DOCS_STAMP)  ## build the docsite (plugins, roles, the guides of docs/) into .build/docs
	$(call header,docs,antsibull-docs sphinx-init + collection + sphinx-build into .build/docs)
	$(DOCS_VENV)/bin/python tools/docs_site.py $(BUILD)/docs-src $(BUILD)/docs

docsite-guides: $(DOCS_STAMP)  ## regenerate docs/docsite/rst/*.rst from the guides docs/*.md
	$(DOCS_VENV)/bin/python tools/docsite_guides.py

# ---------------------------------------------------------------------------------------------
# Other

.PHONY: bench
bench: venv collection  ## API requests, writes and time of the modules on a 50-guest cluster (BENCH_ARGS='--latency 0': 0 ms only)
	$(call header,bench,python tests/bench/bench_modules.py $(BENCH_ARGS))
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_modules.py $(BENCH_ARGS)

bench-compiler: venv collection  ## benchmark the rule compiler (tests/bench/bench_compiler.py)
	$(call header,bench-compiler,python tests/bench/bench_compiler.py)
	@test -f tests/bench/bench_compiler.py || { echo "tests/bench/bench_compiler.py does not exist yet"; exit 1; }
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_compiler.py

bench-verdict: venv collection  ## benchmark the packet verdict engine (tests/bench/bench_verdict.py)
	$(call header,bench-verdict,python tests/bench/bench_verdict.py)
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_verdict.py

.PHONY: bench-guard
bench-guard: venv collection  ## requests and time the lockout guard adds to a change, datacenter firewall off and on (tests/bench/bench_guard.py)
	$(call header,bench-guard,python tests/bench/bench_guard.py)
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_guard.py

.PHONY: bench-exec-paths
bench-exec-paths: venv collection  ## one task's wall and CPU time on the controller path and on the module path (tests/bench/bench_exec_paths.py; BENCH_EXEC_ARGS='--tasks 10 --runs 1')
	$(call header,bench-exec-paths,python tests/bench/bench_exec_paths.py $(BENCH_EXEC_ARGS))
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_exec_paths.py $(BENCH_EXEC_ARGS)

.PHONY: bench-tree
bench-tree: venv collection  ## one firewall_tree task against the per-object tasks it replaces, at 0 and 20 ms (tests/bench/bench_tree.py; BENCH_TREE_ARGS='--runs 1')
	$(call header,bench-tree,python tests/bench/bench_tree.py $(BENCH_TREE_ARGS))
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_tree.py $(BENCH_TREE_ARGS)

.PHONY: bench-emulator
bench-emulator: venv collection  ## requests per second the PVE API emulator serves (tests/bench/bench_emulator.py)
	$(call header,bench-emulator,python tests/bench/bench_emulator.py)
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_emulator.py

.PHONY: bench-blocklist
bench-blocklist: venv collection  ## the blocklist playbook on a 70,000-line feed, 1% changed: requests, writes, time (minutes; BENCH_BLOCKLIST_ARGS='--delta 100')
	$(call header,bench-blocklist,python tests/bench/bench_blocklist.py $(BENCH_BLOCKLIST_ARGS))
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_blocklist.py $(BENCH_BLOCKLIST_ARGS)

# community.proxmox (from the ansible package) and proxmoxer in a virtualenv of their own
COMPARE_VENV := $(BUILD)/compare-venv
COMPARE_STAMP := $(COMPARE_VENV)/.requirements-installed-py$(PYTHON_MINOR)

$(COMPARE_STAMP): requirements/compare.txt
	$(call header,bench-compare,$(PYTHON) -m venv .build/compare-venv + requirements/compare.txt)
	$(check_python)
	rm -rf $(COMPARE_VENV)
	$(PYTHON) -m venv $(COMPARE_VENV)
	$(COMPARE_VENV)/bin/python -m pip install --quiet pip==$(PIP_VERSION)
	$(COMPARE_VENV)/bin/python -m pip install --quiet --no-deps -r requirements/compare.txt
	$(COMPARE_VENV)/bin/python -m pip check
	@touch $@

.PHONY: bench-compare
bench-compare: venv collection $(COMPARE_STAMP)  ## pve.firewall vs community.proxmox on the same jobs; writes docs/benchmarks.md (BENCH_COMPARE_ARGS='--runs 1')
	$(call header,bench-compare,python tests/bench/bench_compare.py $(BENCH_COMPARE_ARGS))
	PYTHONPATH=$(BUILD) $(PY) tests/bench/bench_compare.py --doc docs/benchmarks.md \
	  --command "make bench-compare$(if $(BENCH_COMPARE_ARGS), BENCH_COMPARE_ARGS='$(BENCH_COMPARE_ARGS)')" $(BENCH_COMPARE_ARGS)

demo: venv collection  ## the main job: harden an emulated 3-node cluster with pve.firewall.harden and show the result
	$(call header,demo,python tools/demo.py)
	$(PY) tools/demo.py

clean:  ## remove .venv, .build and every cache
	rm -rf $(VENV) $(BUILD) .cache .pytest_cache .hypothesis .mypy_cache .ruff_cache .ansible tests/output
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -f pve-firewall-*.tar.gz
