# spatialladder: `make install`, `make test`, `make demo`. A CUDA user picks their torch with
#   make install TORCH_SPEC="torch==2.9.1 torchvision==0.24.1" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
# `make install` pins every other package to the exact versions tested, listed in $(LOCK) (torch, torchvision and
# the CUDA packages are left out of it, so the torch picked above stays); `make install LOCK=` installs unpinned.
# `make lock` rewrites $(LOCK) from the working venv after the tests pass on new versions.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
TORCH_INDEX ?=
LOCK ?= constraints.txt
LOCK_EXCLUDE := ^(torch|torchvision|triton)==|^(nvidia|cuda)-
PYTEST_ARGS ?= -m "not slow and not gpu" --durations=15
DEMO_OUT ?= outputs/demo
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install lock test test-slow lint format clean demo demo-smoke bench tiny-model

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml $(wildcard $(LOCK))
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install $(TORCH_INDEX) $(TORCH_SPEC)
	$(BIN)/python -m pip install $(if $(LOCK),-c $(LOCK)) -e ".[dev]"
	touch $@

lock:  # freezes the venv as it is: install and test first (the lock must list what the tests passed with)
	test -x $(BIN)/python || { echo "no venv at $(VENV): run make install (LOCK= for new versions) and make test" >&2; exit 1; }
	{ echo "# Exact versions tested (make lock: pip freeze of the venv, less torch, torchvision and CUDA packages)."; \
	  echo "# make install installs with -c $(LOCK); make install LOCK= does not."; \
	  $(BIN)/python -m pip freeze --exclude-editable | grep -vE '$(LOCK_EXCLUDE)'; } > $(LOCK).tmp
	mv $(LOCK).tmp $(LOCK)
	touch $(VENV)/.installed

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# The slow tier (CPU, ~15 min on 2 quiet cores, peak RSS < 12 GiB per step): real-shaped Qwen2.5-VL-3B, Qwen3-VL-2B and
# Qwen3.5-2B steps at the paper's pixel budgets (tests/slow) and the other `slow` tests; writes seconds and peak RSS per
# step to $(SLOW_REPORT).
SLOW_REPORT ?= outputs/slow_tier.md
test-slow: install
	SLOW_TIER_REPORT=$(SLOW_REPORT) $(BIN)/python -m pytest -m "slow and not gpu" --durations=0

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

tiny-model: install
	$(BIN)/spatialladder make-tiny-model outputs/tiny-qwen2.5-vl

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .ruff_cache outputs
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

demo: install
	$(BIN)/spatialladder demo --out $(DEMO_OUT)

demo-smoke: install
	$(BIN)/spatialladder demo --out outputs/demo-smoke --scenes 3 --smoke
