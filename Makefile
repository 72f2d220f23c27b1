# The two commands of the README: `make run` and `make test`.
# Needs Python 3.11 and Java 17; everything else is installed into .venv.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RAW_DIR ?= data/01_raw
SAMPLE_EVENTS ?= 200000
SAMPLE_SEED ?= 42

export KEDRO_DISABLE_TELEMETRY := true
export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(BIN)/python)

.PHONY: install install-test run sample app test test-fast test-dbr lint format viz package clean browser bench

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml constraints.txt
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local]"
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local,app,test]"
	touch $@

$(VENV)/.installed-app: $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local,app]"
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

## Writes the default sample data into data/01_raw when it holds no raw data (never overwrites).
sample: install
	$(BIN)/python -m recsys_kedro.sample_data --out $(RAW_DIR) --events $(SAMPLE_EVENTS) --seed $(SAMPLE_SEED) --if-empty

## Set-up, sample data, then the main job.
run: sample
	$(BIN)/kedro run

## The recommendations explorer on http://127.0.0.1:$(APP_PORT), over the outputs of
## `make run` (or of KEDRO_ENV's paths: make app KEDRO_ENV=cloud).
APP_PORT ?= 8501
KEDRO_ENV ?= local
app: $(VENV)/.installed-app
	$(BIN)/streamlit run src/recsys_kedro/explorer/app.py --server.address 127.0.0.1 \
		--server.port $(APP_PORT) --server.headless true --browser.gatherUsageStats false \
		--client.toolbarMode viewer \
		-- --env $(KEDRO_ENV)

## Debian's Chromium for the lineage test (headless), installed once, and only as root:
## otherwise the browser test skips, saying how to install it.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			echo "Installing Debian's chromium for the lineage test"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium is not installed and this is not root: the lineage browser test will skip (sudo apt-get install chromium)"; \
		fi; }

## The developer loop: lint and the unit tests (no kedro run, no pipeline end to end).
test-fast: install-test
	$(BIN)/ruff check src tests bench
	$(BIN)/pytest -m "not slow and not integration"

## Lint, format check and the whole test suite (what CI runs).
test: install-test browser
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/pytest

## The wheel on the Python environments of Databricks Runtime 16.4 LTS (Spark 3.5.2) and
## 17.3 LTS (Spark 4.0.0), both Python 3.12: per runtime a venv with its libraries, the
## wheel installed as a cluster library (the runtime's numpy, pandas, pyarrow... kept),
## the unit tests and every pipeline on the default sample. Not part of `make test` (23
## minutes for both on a fresh clone, pip cache warm): run it before each release. The
## runtimes' library lists, and where they come from (Databricks' release notes), are in
## tests/dbr/.
DBR_RUNTIMES ?= 16.4-lts 17.3-lts
test-dbr:
	@for runtime in $(DBR_RUNTIMES); do bash tests/dbr/run.sh $$runtime || exit 1; done

## Every pipeline at 1, 4 and 20 million events: data/08_reporting/benchmarks.csv + .png.
BENCH_EVENTS ?= 1000000 4000000 20000000
BENCH_RUNS ?= 3
bench: install
	$(BIN)/pip install --quiet -c constraints.txt -e ".[local,bench]"
	$(BIN)/python bench/bench_all.py --events $(BENCH_EVENTS) --runs $(BENCH_RUNS)

lint: install-test
	$(BIN)/ruff check src tests bench

format: install-test
	$(BIN)/ruff format src tests bench
	$(BIN)/ruff check --fix src tests bench

viz: install
	$(BIN)/kedro viz run --host 127.0.0.1

package: install
	$(BIN)/kedro package

clean:
	rm -rf $(VENV) dist build *.egg-info .pytest_cache .ruff_cache
