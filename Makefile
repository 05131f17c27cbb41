# zeropower: `make demo` runs the whole system on simulated hardware, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PACKAGES := shared services/meter services/controller services/actuator-opendtu services/actuator-pwm services/actuator-battery services/recorder services/sim services/api
PYPROJECTS := $(addsuffix /pyproject.toml,$(PACKAGES))

.PHONY: install demo test bench lint format system-deps clean

install: $(VENV)/.installed

$(VENV)/.installed: constraints.txt requirements-dev.txt $(PYPROJECTS)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -c constraints.txt -r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

demo: install
	$(BIN)/python -m zeropower.sim.demo $(DEMO_ARGS)

system-deps:
	bash scripts/system-deps

test: install system-deps
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Control-quality benchmark (docs/benchmark.md); SCENARIO=file.csv runs one CSV scenario, BENCH_ARGS e.g. --presets typical.
bench: install $(VENV)/.bench-installed
	$(BIN)/python -m bench.controller $(if $(SCENARIO),--scenario $(SCENARIO)) $(BENCH_ARGS)

# Battery benchmark (docs/benchmark-battery.md): whole days with a balcony battery; BENCH_ARGS e.g. --scenarios clear --presets slow --seeds 2,3.
.PHONY: bench-battery
bench-battery: install $(VENV)/.bench-installed
	$(BIN)/python -m bench.battery $(BENCH_ARGS)

$(VENV)/.bench-installed: constraints.txt bench/requirements.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -c constraints.txt -r bench/requirements.txt
	touch $@

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
