# rnn-nlu routine tasks. `make shell` and `make test` work on a fresh machine: they create .venv
# with a Python 3.10 found on this machine, install the package, and are quick when nothing changed.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
RASA := $(VENV)/bin/rasa
STAMP := $(VENV)/.installed
BOT := --config config/config.yml --domain config/domain.yml --data data
MODELS := models
PORT ?= 5005
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2

SNIPS ?= ../shared/datasets/snips
BENCH_CONFIGS ?= diet_e20 logreg textrnn_slots textrnn_chars_slots rcnn_slots textrnn_slots_nocrf textrnn_sentencepiece
BENCH_REPEAT ?= 1
CLINC ?= ../shared/datasets/clinc150
CLINC_SET ?= data_small
CLINC_CONFIGS ?= textrnn_slots diet_e20
CLINC_REPEAT ?= 3

.PHONY: install shell train test test-fast serve bench bench-clinc redis lint format clean

install: $(STAMP)

# Python 3.10: `python3.10` on PATH, else pyenv's, else a clear message.
$(STAMP): pyproject.toml
	@set -e; py=""; \
	for c in python3.10 $$(ls -d "$$(pyenv root 2>/dev/null || echo $$HOME/.pyenv)"/versions/3.10*/bin/python3.10 2>/dev/null) /usr/bin/python3.10; do \
	  if "$$c" -c 'import sys; assert sys.version_info[:2] == (3, 10)' >/dev/null 2>&1; then py="$$c"; break; fi; \
	done; \
	if [ -z "$$py" ]; then echo "error: rnn-nlu needs Python 3.10 (Rasa 3.6 supports 3.8-3.10); install it, e.g. 'pyenv install 3.10'" >&2; exit 1; fi; \
	echo "Using $$py"; \
	[ -x $(PY) ] || "$$py" -m venv $(VENV); \
	$(PY) -m pip install -q --upgrade pip setuptools wheel; \
	$(PY) -m pip install -q -e '.[test]'; \
	touch $(STAMP)

$(MODELS)/.trained: $(STAMP) config/config.yml config/domain.yml $(wildcard data/*.yml) $(wildcard rnn_nlu/*.py rnn_nlu/*/*.py)
	$(RASA) train $(BOT) --out $(MODELS)
	@touch $@

train: $(MODELS)/.trained

# The bot's custom actions (actions/) in Rasa's action server on port 5055 (config/endpoints.yml),
# started before the command, waited for, and stopped when the command ends.
ACTIONS_PORT := 5055
define with_actions
	@set -e; mkdir -p $(MODELS); \
	$(RASA) run actions --actions actions -p $(ACTIONS_PORT) > $(MODELS)/actions.log 2>&1 & \
	actions=$$!; trap 'kill $$actions 2>/dev/null || true' EXIT; \
	$(PY) -m actions.health $(ACTIONS_PORT) || { cat $(MODELS)/actions.log; exit 1; }; \
	$(1)
endef

shell: train
	$(call with_actions,$(RASA) shell -m $(MODELS) --endpoints config/endpoints.yml)

serve: train
	$(call with_actions,$(RASA) run --enable-api -m $(MODELS) -i 127.0.0.1 -p $(PORT) --endpoints config/endpoints.yml --credentials config/credentials.yml)

# The scale-out tests need a real redis-server (Debian package); install it when missing.
redis:
	@command -v redis-server >/dev/null 2>&1 || { \
	  echo "Installing redis-server (Debian package) for the scale-out tests"; \
	  if [ "$$(id -u)" = 0 ]; then sudo=""; else sudo="sudo"; fi; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq redis-server >/dev/null; }

# Two pytest-xdist workers, a test module each at a time (its fixtures are built once).
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -ra -n $(TEST_WORKERS) --dist loadscope

test: install redis
	$(PYTEST)

test-fast: install
	$(PYTEST) -m "not slow"

# Our pipelines against Rasa's DIET on SNIPS (see docs/benchmarks.md); DIET alone takes over an hour.
bench: install
	$(PY) -m rnn_nlu.bench convert $(SNIPS) bench-results/snips-yaml
	nice -n 5 $(PY) -m rnn_nlu.bench nlu --train bench-results/snips-yaml/train.yml \
	  --test bench-results/snips-yaml/test.yml $(foreach c,$(BENCH_CONFIGS),--config config/bench/$(c).yml) \
	  --repeat $(BENCH_REPEAT) --cache bench-results/cache --out bench-results/snips

# CLINC150, oos-threshold protocol: in-scope training only, the out-of-scope threshold chosen on
# val (see docs/benchmarks.md, "CLINC150").
bench-clinc: install
	$(PY) -m rnn_nlu.bench convert $(CLINC)/$(CLINC_SET).json bench-results/clinc-$(CLINC_SET)-yaml
	nice -n 5 $(PY) -m rnn_nlu.bench nlu --train bench-results/clinc-$(CLINC_SET)-yaml/train.yml \
	  --val bench-results/clinc-$(CLINC_SET)-yaml/val.yml --test bench-results/clinc-$(CLINC_SET)-yaml/test.yml \
	  $(foreach c,$(CLINC_CONFIGS),--config config/bench/$(c).yml) --repeat $(CLINC_REPEAT) \
	  --cache bench-results/cache --out bench-results/clinc-$(CLINC_SET)

lint: install
	$(VENV)/bin/ruff check rnn_nlu tests actions
	$(VENV)/bin/ruff format --check rnn_nlu tests actions

format: install
	$(VENV)/bin/ruff format rnn_nlu tests actions
	$(VENV)/bin/ruff check --fix rnn_nlu tests actions

clean:
	rm -rf $(VENV) $(MODELS) .pytest_cache
