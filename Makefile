# emojigan: the README's commands. Override TORCH_SPEC elsewhere (e.g. a CUDA build): make install TORCH_SPEC=torch
PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
BIN := $(VENV)/bin
DEMO_DIR ?= runs/demo

.PHONY: install demo test bench clean

$(BIN)/emojigan: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q "$(TORCH_SPEC)"
	$(BIN)/pip install -q -e ".[dev]"
	@touch $@

install: $(BIN)/emojigan

# First the shipped faces64 model draws 64 emojis (seconds), then a short training run of the report's
# DCGAN at 32x32 shows training (about a minute on 2 CPU cores) and draws from what it learned.
demo: install
	$(BIN)/emojigan models
	$(BIN)/emojigan generate --model faces64 --n 64 --seed 0 --redraw 8 --background white --out $(DEMO_DIR)/faces64-grid.png
	$(BIN)/emojigan generate --model cond128 --n 32 --seed 88 --nrow 8 --background white --out $(DEMO_DIR)/cond128-grid.png
	$(BIN)/emojigan data build --subset faces --size 32 --background black --out data/faces-32-black
	$(BIN)/emojigan train --preset dcgan64 --data data/faces-32-black --size 32 --epochs 150 --sample-every 50 \
		--out $(DEMO_DIR)/train --overwrite
	$(BIN)/emojigan generate $(DEMO_DIR)/train --n 64 --seed 0 --out $(DEMO_DIR)/trained-grid.png
	@echo "shipped models: $(DEMO_DIR)/faces64-grid.png $(DEMO_DIR)/cond128-grid.png (labels 88-119)"
	@echo "short training run: $(DEMO_DIR)/trained-grid.png"
	@echo "real emojis: data/faces-32-black/preview.png"

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/train_throughput.py --compare-reference --variants fp32,bf16
	$(BIN)/python benchmarks/train_process.py

clean:
	rm -rf runs build dist *.egg-info src/*.egg-info
