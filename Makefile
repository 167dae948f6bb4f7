# Two commands for a fresh machine:  make demo  (quickstart end to end)   make test  (the test suite; make test-fast skips the end-to-end runs)
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# CPU build of PyTorch from this machine's disk; on a GPU machine use e.g. `make demo TORCH=torch`.
TORCH ?= torch==2.13.0

.PHONY: install browser demo test test-fast bench clean

install: $(VENV)/.installed browser

# Debian's headless Chromium and its driver for the page's browser tests (they skip without them)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver; } || \
		echo "warning: chromium and chromium-driver not installed: the browser tests will skip"

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q $(TORCH)
	$(BIN)/pip install -q -e '.[test]'
	touch $@

demo: install
	$(BIN)/mixsearch data fetch recipes/quickstart.yaml
	$(BIN)/mixsearch run recipes/quickstart.yaml
	$(BIN)/mixsearch validate recipes/quickstart.yaml --seeds auto

# one test worker per CPU this process may use, at most 4 (each may start Ray and torch); a test
# file stays on one worker, so its fixtures are built once
WORKERS = $$($(BIN)/python -c 'import os; print(min(4, len(os.sched_getaffinity(0))))')

test: install
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile

# the inner loop: every test but the end-to-end runs of whole commands
test-fast: install
	$(BIN)/python -m pytest -q -n $(WORKERS) --dist loadfile -m 'not slow'

bench: install
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/surrogates.py
	$(BIN)/python benchmarks/proxy_throughput.py
	$(BIN)/python benchmarks/startup.py
	$(BIN)/python benchmarks/prepare.py
	$(BIN)/python benchmarks/search_quality.py
	$(BIN)/python benchmarks/phases.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/soak.py

clean:
	rm -rf $(VENV) .cache runs/quickstart data
