# The two commands README.md starts with: `make demo` and `make test`.
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): setup.cfg pyproject.toml tools/bootstrap.sh
	bash tools/bootstrap.sh

# The demo's planted weaknesses make `auditor demo` exit 1 (its gate working); any other
# non-zero exit (2 usage, 3 could not evaluate) is a real failure.
demo: $(STAMP)
	$(VENV)/bin/auditor demo || [ $$? -eq 1 ]

test: $(STAMP)
	$(VENV)/bin/python -m pytest -n 2

lint: $(STAMP)
	$(VENV)/bin/ruff check auditor checks tests benchmarks
	$(VENV)/bin/ruff format --check auditor checks
	$(VENV)/bin/mypy auditor

clean:
	rm -rf $(VENV) auditor-demo-report .pytest_cache .mypy_cache .ruff_cache
