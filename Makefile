# make site   set everything up (venv, pinned Python packages, npm ci) and build dist/
# make test   the same set-up, plus Chromium and nginx where missing, then the whole suite
# make serve  live preview on http://127.0.0.1:8000 (rebuilds and reloads on save)
# make bench  engine and page benchmarks (tables of medians)
# make check  validate content/ without building
# make train  retrain the digit ViTs of issue 12 (numpy) and rewrite content/models/
# make clean  remove dist/ and the build cache

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PY_STAMP := $(VENV)/.installed
NPM_STAMP := node_modules/.installed

.PHONY: site test serve bench check clean setup browsers train

site: setup
	$(PY) build.py build

setup: $(PY_STAMP) $(NPM_STAMP)

$(PY_STAMP): requirements.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's Chromium and nginx (with the brotli_static module the site's nginx snippet uses)
# when running as root (CI); Playwright's own browser elsewhere.
BROTLI_STATIC := /usr/lib/nginx/modules/ngx_http_brotli_static_module.so
browsers: setup
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/sbin/nginx ] || [ ! -f $(BROTLI_STATIC) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium nginx-light \
	      libnginx-mod-http-brotli-static >/dev/null; \
	  else \
	    [ -x /usr/bin/chromium ] || $(PY) -m playwright install chromium; \
	  fi; \
	fi

test: setup browsers
	$(PY) build.py build
	$(PY) -m pytest tests -p no:cacheprovider --timeout=600 -q

serve: setup
	$(PY) build.py serve

check: setup
	$(PY) build.py check

bench: setup browsers
	$(PY) tests/bench/bench_engine.py
	$(PY) tests/bench/bench_vit.py
	$(PY) tests/bench/bench_page.py

train: setup
	$(PY) tests/vit/train.py

clean:
	rm -rf dist dist.staging-* .cache
