# emojigan: the README's commands. torch is installed first, as TORCH_SPEC with TORCH_PIP_ARGS (e.g.
# make install TORCH_PIP_ARGS="--index-url https://download.pytorch.org/whl/cpu" for the CPU-only build from PyTorch's
# index; from PyPI on Linux, torch==2.13.0 is the CUDA build)
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
TORCH_PIP_ARGS ?=
BIN := $(VENV)/bin
CHROMIUM ?= /usr/bin/chromium
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
DEMO_DIR ?= runs/demo

.PHONY: install browser demo test bench clean

$(BIN)/emojigan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)" $(TORCH_PIP_ARGS)
	$(BIN)/pip install -q -e ".[dev,text,web]"
	@touch $@

install: $(BIN)/emojigan

# the studio's browser tests drive Debian's chromium through playwright (never `playwright install`)
browser: $(CHROMIUM)

$(CHROMIUM):
	$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium

# First the shipped models draw (seconds), then faces64 is fine-tuned on the 9 OpenMoji cat faces it never saw
# (500 steps, under a minute on 2 CPU cores): training a GAN from scratch takes far longer than a demo.
demo: install
	$(BIN)/emojigan models
	$(BIN)/emojigan generate --model faces64 --n 64 --seed 0 --redraw 8 --background white --out $(DEMO_DIR)/faces64-grid.png
	$(BIN)/emojigan generate --model cond128 --n 32 --seed 88 --nrow 8 --background white --out $(DEMO_DIR)/cond128-grid.png
	$(BIN)/emojigan data build --subset all --subgroup cat-face --size 64 --background transparent --out data/cat-faces-64
	$(BIN)/emojigan train --init faces64 --data data/cat-faces-64 --epochs 500 --freeze-d 2 --eval-every 0 \
		--sample-every 100 --out $(DEMO_DIR)/cats --overwrite
	$(BIN)/emojigan generate $(DEMO_DIR)/cats --n 32 --seed 0 --nrow 8 --background white --out $(DEMO_DIR)/cats-grid.png
	@echo "shipped models: $(DEMO_DIR)/faces64-grid.png, $(DEMO_DIR)/cond128-grid.png (labels 88-119)"
	@echo "$(DEMO_DIR)/cats-grid.png: faces64 fine-tuned for 500 steps on the 9 cat faces of data/cat-faces-64/preview.png: orange cat heads with ears and whiskers wearing faces64's expressions (winks, tongues, round eyes), cats OpenMoji does not have"

test: install browser
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/train_throughput.py --compare-reference --variants fp32,bf16
	$(BIN)/python benchmarks/train_process.py

clean:
	rm -rf runs build dist *.egg-info src/*.egg-info
