# `make run`: set up .venv and train the default GAN; `make test`: set up and run the test suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# torch and torchvision first, pinned to the wheels this project is tested with.
TORCH := torch==2.14.1 torchvision==0.29.1
# The GAN family packages of plugins/, each published on its own; installed here (editable) and tested
# by `make test` (their tests/ folders are in pyproject.toml's testpaths).
FAMILIES := gankit-biggan gankit-stylegan gankit-pix2pix gankit-cyclegan gankit-stargan

.PHONY: setup run test docs check-wheels clean

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml Makefile $(foreach f,$(FAMILIES),plugins/$(f)/pyproject.toml)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet $(TORCH)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation $(foreach f,$(FAMILIES),-e plugins/$(f))
	touch $@

run: setup
	$(BIN)/gankit run

# Two workers of one torch thread each: the 2 cores stay busy without the threads of one process
# fighting the other's (PyTorch's default of a thread per core collapses under contention). worksteal: a
# worker that runs out of tests takes the other's queued ones, so the suite does not end on one busy worker
# (372 s against 406 s with xdist's default scheduling, one after the other on the same machine).
test: setup
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -n 2 --dist worksteal

docs: setup
	$(BIN)/mkdocs build --strict

# Each family package's wheel in a fresh environment holding only gankit and its dependencies, its own
# tests run there (a few minutes; not part of `make test`).
check-wheels:
	bash plugins/check-wheels.sh

clean:
	rm -rf $(VENV) site build dist *.egg-info
