# Shuangsui 双随 — two commands for a newcomer: `make run` and `make test`.
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
CLI := $(VENV)/bin/shuangsui
PYTHON ?= python3
HOST ?= 127.0.0.1
PORT ?= 8000
ENTITIES ?= 5000
export SHUANGSUI_INSTANCE ?= $(CURDIR)/instance
export FLASK_APP := server:create_app

.PHONY: run test install system-deps demo serve mobile bench lint clean postgres

$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip setuptools wheel
	$(PIP) install -q -e '.[test,mobile]'
	@touch $@

install: $(VENV)/.installed

# Debian packages the product and its tests need: a CJK font (console charts, handheld),
# Xvfb (the Kivy app's screen in tests), Chromium (browser tests), wrk (API load benchmark).
system-deps:
	@need=""; \
	test -f /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc || need="$$need fonts-noto-cjk"; \
	command -v xvfb-run >/dev/null || need="$$need xvfb xauth"; \
	command -v chromium >/dev/null || need="$$need chromium"; \
	command -v wrk >/dev/null || need="$$need wrk"; \
	if [ -n "$$need" ]; then \
	  if command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
	    echo "installing system packages:$$need"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$need >/dev/null; \
	  else echo "please install:$$need (Debian packages)"; fi; \
	fi

# PostgreSQL is used by the test suite when it can be reached (CI must reach it).
postgres:
	@if command -v pg_ctlcluster >/dev/null && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -1) main start || true; \
	fi

demo: install
	$(CLI) db upgrade
	$(CLI) load-reference
	$(CLI) demo --entities $(ENTITIES) --if-empty

serve: install
	$(CLI) serve --host $(HOST) --port $(PORT)

run: system-deps install demo
	@$(CLI) demo-info --url http://$(HOST):$(PORT)/
	$(CLI) serve --demo --host $(HOST) --port $(PORT)

mobile: system-deps install
	SHUANGSUI_SERVER=http://$(HOST):$(PORT) $(PY) -m mobile.main

TEST_ARGS ?=
# two pytest workers on two cores: one BLAS/OpenMP thread each (oversubscription slows fits 5x)
test: export OMP_NUM_THREADS ?= 1
test: system-deps postgres install
	@if [ -z "$$DISPLAY" ] && command -v xvfb-run >/dev/null; then \
	  xvfb-run -a -s "-screen 0 1280x800x24" $(PY) -m pytest -n 2 --dist loadfile $(TEST_ARGS); \
	else $(PY) -m pytest -n 2 --dist loadfile $(TEST_ARGS); fi

bench: system-deps install
	$(CLI) bench --json > bench.json
	@cat bench.json

lint: install
	$(VENV)/bin/ruff check server risk_models sampling mobile tests

clean:
	rm -rf $(VENV) instance .pytest_cache
