# The README's two commands. Both set up .venv on a fresh machine first.
#   make play   start the playground on the bundled agents (PORT, else STREAMLIT_SERVER_PORT, else 8501)
#   make test   run every test (PYTEST_ARGS=... adds pytest options, e.g. --durations=25)
# For contributors (CONTRIBUTING.md):
#   make test-fast   the tests for every edit: all but those marked slow, browser or shipped (under a minute)
#   make lint        ruff check, ruff format --check and mypy, as CI runs them

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= $(or $(STREAMLIT_SERVER_PORT),8501)

.PHONY: play test test-fast lint setup clean chromium

# torch first, pinned: `pip install torch==2.13.0` takes the CPU wheel; letting the resolver pick torch
# for stable-baselines3 would pull a multi-GB CUDA build.
$(VENV)/.installed: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c 'import sys; assert sys.version_info[:2] == (3, 11), "PPO Playground needs Python 3.11, this is " + sys.version' 
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e .
	@touch $@

$(VENV)/.installed-dev: $(VENV)/.installed
	$(PY) -m pip install -q -e ".[dev]"
	@touch $@

setup: $(VENV)/.installed

play: $(VENV)/.installed
	$(VENV)/bin/streamlit run playground/app.py --server.port $(PORT) --server.headless true \
		--browser.gatherUsageStats false

# The browser tests drive Debian's chromium; install it where we can (root with apt-get). Elsewhere they
# skip with the reason, except under CI=true, where a missing browser fails the run.
chromium:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null \
		|| echo "could not install chromium; browser tests will skip"; fi

test: $(VENV)/.installed-dev chromium
	$(PY) -m pytest $(PYTEST_ARGS)

# The markers are registered in pyproject.toml; a test that takes more than ~2 s here is marked slow.
# The tight timeout keeps this tier honest: a test that needs more belongs in `make test`.
test-fast: $(VENV)/.installed-dev
	$(PY) -m pytest -m "not slow and not browser and not shipped" --timeout=60 --durations=5 $(PYTEST_ARGS)

# All three run even when one fails, so one pass shows every finding. Settings: pyproject.toml.
lint: $(VENV)/.installed-dev
	@status=0; \
	$(PY) -m ruff check . || status=1; \
	$(PY) -m ruff format --check . || status=1; \
	$(PY) -m mypy || status=1; \
	exit $$status

clean:
	rm -rf $(VENV)
