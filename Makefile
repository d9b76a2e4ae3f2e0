# Gongchuang: `make run` serves the demo on http://127.0.0.1:8000; `make test` runs everything.
# Debian's own CPython 3.11 where the machine has it: its interpreter is built statically with
# profile-guided optimisation, and the suite spends ~15 % less CPU on it than on a shared-library
# build without it (pyenv's default) of the same version. Any python3.11 on PATH otherwise.
PYTHON ?= $(firstword $(wildcard /usr/bin/python3.11) python3.11)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := src/gongchuang/static/vendor
LOCALE := src/gongchuang/locale
PDF_FONT := src/gongchuang/core/fonts/NotoSansCJKsc-Regular.ttf
export GONGCHUANG_LOG_JSON ?= false
TEST_PROCESSES ?= 2

.PHONY: run test install assets locale pdf-font lint typecheck check-migrations import-check \
        test-sqlite test-postgres static-checks extract-messages bench clean browser-packages \
        size-check

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	scripts/system-packages.sh $(PYTHON):python3.11,python3.11-venv
	$(PYTHON) -c 'import ensurepip' 2>/dev/null || scripts/system-packages.sh no-ensurepip:python3.11-venv
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(STAMP)

install: $(STAMP) assets locale pdf-font

# Front-end libraries come from npm at the versions package-lock.json pins. What the machine's
# npm cache holds is not fetched again; a download that stalls (seen: a tarball hanging for
# minutes mid-body, which npm's own timeouts do not end) is given up after three minutes and
# the whole install tried again, up to three times.
$(VENDOR)/.stamp: package.json package-lock.json
	scripts/system-packages.sh npm:nodejs,npm
	for attempt in 1 2 3; do \
	  timeout 180 npm ci --ignore-scripts --no-audit --no-fund --prefer-offline \
	    --fetch-timeout=60000 --fetch-retries=4 && break; \
	  if [ $$attempt = 3 ]; then echo "npm ci failed three times" >&2; exit 1; fi; \
	  echo "npm ci stalled or failed (attempt $$attempt): trying again" >&2; \
	done
	mkdir -p $(VENDOR)
	cp node_modules/htmx.org/dist/htmx.min.js $(VENDOR)/
	cp node_modules/htmx-ext-sse/dist/sse.js $(VENDOR)/htmx-ext-sse.js
	cp node_modules/echarts/dist/echarts.min.js $(VENDOR)/
	cp node_modules/leaflet/dist/leaflet.js node_modules/leaflet/dist/leaflet.css $(VENDOR)/
	cp -r node_modules/leaflet/dist/images $(VENDOR)/
	mkdir -p $(VENDOR)/swagger-ui
	cp node_modules/swagger-ui-dist/swagger-ui-bundle.js node_modules/swagger-ui-dist/swagger-ui.css node_modules/swagger-ui-dist/favicon-32x32.png $(VENDOR)/swagger-ui/
	touch $@

assets: $(VENDOR)/.stamp

# PDFs embed Noto Sans CJK SC so that notices and certificates print the same on any reader:
# Debian's font rewritten with the TrueType outlines reportlab embeds (~20 s, once a machine).
$(PDF_FONT): scripts/build-pdf-font.py | $(STAMP)
	scripts/system-packages.sh "font:Noto Sans CJK SC:fonts-noto-cjk"
	$(BIN)/python scripts/build-pdf-font.py $@

pdf-font: $(PDF_FONT)

locale: $(STAMP)
	$(BIN)/pybabel compile -d $(LOCALE) -D messages

extract-messages: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k N_ -o $(LOCALE)/messages.pot --no-location --sort-output src
	$(BIN)/pybabel update -i $(LOCALE)/messages.pot -d $(LOCALE) -D messages --no-fuzzy-matching

run: install
	$(BIN)/gongchuang db upgrade
	$(BIN)/gongchuang demo --if-empty
	$(BIN)/gongchuang serve --host 127.0.0.1 --port 8000

lint: $(STAMP)
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/ruff format --check src tests bench migrations

typecheck: $(STAMP)
	$(BIN)/mypy src

import-check: $(STAMP)
	$(BIN)/lint-imports

# A file over 800 lines under src/ says why on a "Size:" line of its docstring.
size-check:
	$(PYTHON) scripts/check-file-sizes.py

check-migrations: $(STAMP)
	rm -f var/alembic-check.db
	GONGCHUANG_DATABASE_URL=sqlite:///$(CURDIR)/var/alembic-check.db $(BIN)/gongchuang db upgrade
	GONGCHUANG_DATABASE_URL=sqlite:///$(CURDIR)/var/alembic-check.db $(BIN)/alembic check
	rm -f var/alembic-check.db*

# The browser tests drive Debian's Chromium and need CJK fonts to render Chinese pages. The
# fonts first, on their own: the PDF font is built from them while Chromium is installed.
browser-packages:
	scripts/system-packages.sh "font:Noto Sans CJK SC:fonts-noto-cjk"
	scripts/system-packages.sh chromium:chromium

test-sqlite: install browser-packages
	GONGCHUANG_TEST_DATABASE=sqlite $(BIN)/pytest -n $(TEST_PROCESSES) --dist loadgroup -q --durations=25

test-postgres: install browser-packages
	GONGCHUANG_TEST_DATABASE=postgresql $(BIN)/pytest -n $(TEST_PROCESSES) --dist loadgroup -q --durations=25

static-checks: lint typecheck import-check size-check check-migrations

# The install steps run side by side (pip, npm, apt's Chromium and the PDF font wait on different
# things; scripts/system-packages.sh queues the apt calls), and the static checks join them as
# soon as the virtual environment is there: apt and the downloads leave the cores idle, the
# test halves would not. Then the SQLite half, then the PostgreSQL half (each uses both cores).
# Any failure fails `make test`; each half lists its slowest tests, to keep the whole under 10
# minutes on 2 cores as modules are added.
test:
	$(MAKE) --no-print-directory --output-sync=target -j4 install browser-packages static-checks
	$(MAKE) --no-print-directory test-sqlite
	$(MAKE) --no-print-directory test-postgres

bench: install
	command -v wrk >/dev/null || (apt-get install -y -qq wrk || echo "no wrk: the Python load generator is slower")
	$(BIN)/python bench/http_core.py

clean:
	rm -rf $(VENV) node_modules $(VENDOR) $(PDF_FONT) var/*.db*
