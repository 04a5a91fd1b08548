# fx_mm: install, test and demo entry points.
#
#   make install   create .venv and install the verified stack (idempotent)
#   make test      install if needed, then run the test suite
#   make demo      install if needed, then train / evaluate / visualise the bundled demo
#
# mmcv 2.1.0 has only a source archive on PyPI and takes ~10 min to compile on 2 cores,
# so its wheel is cached outside the repository under a folder named after the torch
# version it was compiled against: a wheel is never reused with another torch.

PYTHON     ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
TORCH_VER  := 2.14.1
MMCV_VER   := 2.1.0
WHEEL_DIR  ?= $(HOME)/.cache/fx_mm/wheels/torch-$(TORCH_VER)
STAMP      := $(VENV)/.fx_mm-installed
REQS       := requirements/torch.txt requirements/build.txt requirements/runtime.txt requirements/tests.txt setup.py

.PHONY: install test demo clean-venv

install: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip<26"
	$(PIP) install -q -r requirements/torch.txt
	# after torch: torch's own install pulls in a setuptools too new for mmcv's setup.py
	$(PIP) install -q -r requirements/build.txt
	bash tools/install_mmcv.sh $(PY) $(MMCV_VER) $(WHEEL_DIR)
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PY) -c "import fx_mm, mmcv.ops, mmdet, mmseg, mmpretrain; print('fx_mm stack OK: torch', __import__('torch').__version__, 'mmcv', mmcv.ops.__name__ and __import__('mmcv').__version__)"
	touch $(STAMP)

test: install
	$(PY) -m pytest -q tests

demo: install
	$(PY) tools/demo.py

clean-venv:
	rm -rf $(VENV)
