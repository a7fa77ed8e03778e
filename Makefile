# make demo : set up .venv and run the payment demo on the in-memory broker
# make test : set up .venv, install Redis/RabbitMQ/Tansu, lint, run the whole suite (what CI runs)
.DEFAULT_GOAL := help
SHELL := /bin/bash
VENV := .venv
BENCH_OUTPUT ?= bench/latest.json
BENCH_ARGS ?=
PEERS_ARGS ?=

.PHONY: help setup brokers demo lint test bench bench-peers clean distclean

help:
	@echo "make setup    create .venv and install the project with its dev tools"
	@echo "make brokers  install redis-server, rabbitmq-server (apt) and Tansu (.brokers/bin/tansu)"
	@echo "make demo     setup, then run the payment demo on the in-memory broker"
	@echo "make lint     ruff, mypy (strict), import-linter"
	@echo "make test     setup + brokers + lint + pytest (the whole suite; what .ci/run runs)"
	@echo "make bench    benchmark JSON into $(BENCH_OUTPUT) (BENCH_ARGS='--broker URL ...')"
	@echo "make bench-peers  BullMQ and this project side by side on one private redis-server (needs node)"
	@echo "make clean    remove caches and test reports (distclean: also .venv and .brokers)"

setup:
	@bash scripts/setup.sh

brokers:
	@bash scripts/install-brokers.sh

demo: setup
	$(VENV)/bin/backbone demo

lint: setup
	@bash scripts/lint.sh

test:
	@bash scripts/test.sh

bench: setup
	@mkdir -p $(dir $(BENCH_OUTPUT))
	$(VENV)/bin/backbone bench --output $(BENCH_OUTPUT) $(BENCH_ARGS)

bench-peers: setup
	cd bench/peers && npm ci --no-audit --no-fund
	$(VENV)/bin/python bench/peers/run.py $(PEERS_ARGS)

clean:
	rm -rf reports .pytest_cache .mypy_cache .ruff_cache .hypothesis .import_linter_cache build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV) .brokers
