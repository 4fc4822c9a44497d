# spatialladder: `make install`, `make test`, `make demo`. A CUDA user picks their torch with
#   make install TORCH_SPEC="torch==2.9.1 torchvision==0.24.1" TORCH_INDEX="--index-url https://download.pytorch.org/whl/cu128"
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.14.1 torchvision==0.29.1
TORCH_INDEX ?=
PYTEST_ARGS ?= -m "not slow and not gpu" --durations=15
DEMO_OUT ?= outputs/demo
export OMP_NUM_THREADS ?= 1
export HF_HUB_OFFLINE ?= 1
export TOKENIZERS_PARALLELISM ?= false

.PHONY: install test lint format clean demo demo-smoke bench tiny-model

install: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip
	$(BIN)/python -m pip install $(TORCH_INDEX) $(TORCH_SPEC)
	$(BIN)/python -m pip install -e ".[dev]"
	touch $@

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

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
