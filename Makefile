# The two set-up commands of the README: `make demo` and `make test`.
# Both install what they need first (a virtualenv in .venv, Debian's chromium for the
# browser tests), so they work on a fresh machine.

VENV ?= .venv
PY := $(VENV)/bin/python
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)

.PHONY: install demo test lint check-dialplan bench clean

install:
	@scripts/install.sh

demo: install
	$(VENV)/bin/callcontrol demo

test: install
	@scripts/test.sh

lint: install
	$(VENV)/bin/ruff check .

bench: install
	$(PY) -m bench

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .mypy_cache
