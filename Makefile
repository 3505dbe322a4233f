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

# The report's dataset and DCGAN settings, at 32x32 and 300 epochs so that it fits a few minutes on a
# 2-core CPU (about 2 minutes of training here), then a sample grid from fixed seeds.
demo: install
	$(BIN)/emojigan data build --subset faces --size 32 --background black --out data/faces-32-black
	$(BIN)/emojigan train --preset dcgan64 --data data/faces-32-black --size 32 --epochs 300 --sample-every 50 \
		--out $(DEMO_DIR) --overwrite
	$(BIN)/emojigan generate $(DEMO_DIR) --n 64 --seed 0 --out $(DEMO_DIR)/demo-grid.png
	@echo "demo grid: $(DEMO_DIR)/demo-grid.png   (real emojis: data/faces-32-black/preview.png)"

test: install
	$(BIN)/python -m pytest -q

bench: install
	$(BIN)/python benchmarks/train_throughput.py --compare-reference --variants fp32,bf16
	$(BIN)/python benchmarks/train_process.py

clean:
	rm -rf runs build dist *.egg-info src/*.egg-info
