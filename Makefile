# The two commands README.md starts with: `make demo` and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml tools/bootstrap.sh
	bash tools/bootstrap.sh

demo: $(STAMP)
	$(VENV)/bin/auditor demo

test: $(STAMP)
	$(VENV)/bin/python -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check auditor tests benchmarks
	$(VENV)/bin/ruff format --check auditor
	$(VENV)/bin/mypy auditor

clean:
	rm -rf $(VENV) auditor-demo-report .pytest_cache .mypy_cache .ruff_cache
