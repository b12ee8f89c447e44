# The two commands of the README:
#   make run    set up, then process ./inbox -> ./outbox with the bundled config.yaml
#   make test   set up, then run the whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: setup run test test-fast bench preview clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

setup: $(STAMP)

run: $(STAMP)
	mkdir -p inbox
	$(BIN)/booth run --config config.yaml

# Four workers even on two cores: most end-to-end tests wait on real daemons,
# timers and sockets rather than on the CPU.
test: $(STAMP)
	$(BIN)/python -m pytest -n 4

test-fast: $(STAMP)
	$(BIN)/python -m pytest -n 4 -m "not slow"

bench: $(STAMP)
	$(BIN)/python benchmarks/pipeline_bench.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
