# Retail Sync Hub: `make demo` and `make test` on a fresh machine (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PORT ?= 8000
HOST ?= 127.0.0.1
SHOP_PORT ?= 8090
SHOP_PRODUCTS ?= 200
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/retail_sync_hub
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
CHROMIUM ?= /usr/bin/chromium
PYTEST_ARGS ?=
# The demo's shop simulator listens on loopback, which the URL guard refuses unless allowed.
# LISTEN_URL: the address served, PUBLIC_BASE_URL's default (webhook URLs, image links)
# unless PUBLIC_BASE_URL is set (environment or .env).
DEMO_ENV := PLATFORM_URL_ALLOWLIST=127.0.0.1,localhost,::1 LISTEN_URL=http://$(HOST):$(PORT)
# The embedded server, as `make run` and `make demo` start it: one redacting log config for
# every mode (config/uvicorn_log.json, also used by the Dockerfile and docker-compose.yml).
SERVE := $(VENV)/bin/uvicorn config.asgi:application --host $(HOST) --port $(PORT) --lifespan off \
	--ws-per-message-deflate false --log-config config/uvicorn_log.json

.PHONY: install install-dev lock docs demo run simulator simulator-stop lint test test-deps bench prod-smoke clean

# Runtime and dev sets install from their locks (requirements.lock, requirements-dev.lock; `make lock`
# compiles them). The requirement files are named too, so a package added without relocking still installs.
# With uv: the one on PATH, else the lock's uv installed into the venv by pip (3x faster than pip alone).
# A stamp per set: a changed file reinstalls.
UV ?= $(or $(shell command -v uv 2>/dev/null),$(VENV)/bin/uv)
UV_PIN := $(or $(shell grep -m1 '^uv==' requirements-dev.lock 2>/dev/null),uv)
VENV_INSTALL = $(UV) pip install --quiet --python $(PY)

$(VENV)/.installed: requirements.lock requirements.txt
	@echo "Installing the runtime set into $(VENV) (requirements.lock)"
	@[ -x $(PY) ] || $(PYTHON) -m venv $(VENV)
	@[ -x $(UV) ] || $(VENV)/bin/pip install --quiet --disable-pip-version-check '$(UV_PIN)'
	$(VENV_INSTALL) -r requirements.lock -r requirements.txt
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed requirements-dev.lock requirements-dev.txt
	$(VENV_INSTALL) -r requirements-dev.lock -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

# Pins the runtime set, then the dev set on top of it (same versions for what they share).
lock: install-dev
	$(UV) pip compile --quiet --python-version 3.11 requirements.txt -o requirements.lock
	$(UV) pip compile --quiet --python-version 3.11 requirements-dev.txt -c requirements.lock \
		-o requirements-dev.lock

# The documentation site (mkdocs-material) into var/site; --strict turns broken links into errors.
docs: install-dev
	$(VENV)/bin/mkdocs build --strict --site-dir var/site

demo: install simulator
	$(DEMO_ENV) $(PY) manage.py migrate --noinput
	$(DEMO_ENV) $(PY) manage.py demo_setup --shop-url http://127.0.0.1:$(SHOP_PORT)
	$(MAKE) --no-print-directory run

run: install
	$(DEMO_ENV) $(SERVE)

simulator: install
	@mkdir -p var
	@if [ -f var/simulator.pid ] && kill -0 $$(cat var/simulator.pid) 2>/dev/null; then \
		echo "shop simulator already running (pid $$(cat var/simulator.pid))"; \
	else \
		nohup $(PY) -m shopsim --host 127.0.0.1 --port $(SHOP_PORT) \
			--products $(SHOP_PRODUCTS) > var/simulator.log 2>&1 & echo $$! > var/simulator.pid; \
		$(PY) -c "import socket,time,sys;\
		[time.sleep(0.2) for _ in range(50) if socket.socket().connect_ex(('127.0.0.1',$(SHOP_PORT)))];" ; \
		echo "shop simulator on http://127.0.0.1:$(SHOP_PORT)/api/ (pid $$(cat var/simulator.pid))"; \
	fi

simulator-stop:
	@if [ -f var/simulator.pid ]; then kill $$(cat var/simulator.pid) 2>/dev/null || true; rm -f var/simulator.pid; fi

# The NAS tests run a real sshd and rsync; the docs' examples (tests/integration/test_doc_examples.py)
# run curl and openssl. Installs Debian's packages when missing (as root), with a policy-rc.d that
# keeps the package from starting a system sshd on port 22.
test-deps:
	@if [ -x /usr/sbin/sshd ] && command -v rsync >/dev/null 2>&1 && command -v ssh-keygen >/dev/null 2>&1 \
		&& command -v curl >/dev/null 2>&1 && command -v openssl >/dev/null 2>&1; then \
		echo "test-deps: sshd, ssh, rsync, curl and openssl already installed"; \
	else \
		echo "test-deps: installing openssh-server, openssh-client, rsync, curl and openssl (apt-get)"; \
		printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod 755 /usr/sbin/policy-rc.d; \
		status=0; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
			openssh-server openssh-client rsync curl openssl || status=$$?; \
		rm -f /usr/sbin/policy-rc.d; \
		[ $$status -eq 0 ] || exit $$status; \
	fi
	@[ -d /run/sshd ] || { echo "test-deps: mkdir -p /run/sshd (sshd's privilege separation directory)"; mkdir -p /run/sshd; }
	@# The browser tests drive Debian's Chromium through Playwright (never a browser Playwright downloads).
	@if [ -x $(CHROMIUM) ]; then \
		echo "test-deps: chromium already installed"; \
	else \
		echo "test-deps: installing chromium (apt-get)"; \
		DEBIAN_FRONTEND=noninteractive apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium; \
	fi

# Style (ruff check + format) and the import layers (import-linter, .importlinter); `make test` runs it first.
lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

test: install-dev lint test-deps
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
		SECRET_KEY=$${SECRET_KEY:-tests-only-key-not-a-secret-0123456789abcdef} SECURE_SSL_REDIRECT=false \
		CACHE_KEY_PREFIX=$${CACHE_KEY_PREFIX:-test-$$$$} \
		CHROMIUM_EXECUTABLE=$${CHROMIUM_EXECUTABLE:-$(CHROMIUM)} $(VENV)/bin/pytest $(PYTEST_ARGS)

prod-smoke: install-dev
	$(PY) ops/prod_smoke.py

bench: install
	@for script in bench/*.py; do echo "== $$script"; $(PY) $$script || exit 1; done

clean: simulator-stop
	rm -rf var .venv
