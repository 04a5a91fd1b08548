# fx_mm: install, test and demo entry points.
#
#   make install   create .venv and install the verified stack (idempotent)
#   make test      install if needed, then run the test suite
#   make demo      install if needed, then train / evaluate / visualise the bundled demo
#   make test-gpu  install if needed, then run only the GPU tests (pytest marker `gpu`;
#                  they skip, with the reason, where torch sees no CUDA GPU)
#
# mmcv 2.1.0 has only a source archive on PyPI and takes ~10 min to compile on 2 cores
# (CPU ops), so its wheel is cached outside the repository, in a folder named after the
# torch version and the build variant (cpu, or the CUDA release and GPU architectures):
# a wheel is never reused with another torch, CUDA or architecture list.
# Where torch sees a CUDA GPU, mmcv is compiled with its CUDA kernels (FX_MMCV_CUDA=auto);
# FX_MMCV_CUDA=1 forces a CUDA build (e.g. on a build host without a GPU, with
# TORCH_CUDA_ARCH_LIST), FX_MMCV_CUDA=0 a CPU-only one. See tools/install_mmcv.sh.

PYTHON     ?= python3
VENV       := .venv
PY         := $(VENV)/bin/python
PIP        := $(PY) -m pip
TORCH_VER  := 2.14.1
MMCV_VER   := 2.1.0
FX_CACHE   ?= $(HOME)/.cache/fx_mm
FX_MMCV_CUDA ?= auto
export FX_MMCV_CUDA
# The mmcv build this machine asks for (cpu, or cuda<release>-sm<archs>), resolved by
# tools/mmcv_variant.py from FX_MMCV_CUDA, TORCH_CUDA_ARCH_LIST and the GPUs the venv's
# torch sees: one `import torch` per make run, no GPU needed; "none" before the venv has
# a torch. The stamp is named after the mode and this variant, so a venv installed where
# no GPU is visible (a login node, a container build) gets its CUDA build from
# `make install` or `make test-gpu` on the GPU node, and so do other architectures or
# another mode; on an unchanged machine the stamp stands and nothing re-runs.
MMCV_VARIANT := $(firstword $(shell test -x $(PY) && $(PY) tools/mmcv_variant.py 2>/dev/null) none)
STAMP      := $(VENV)/.fx_mm-installed-mmcv-$(FX_MMCV_CUDA)-$(MMCV_VARIANT)
REQS       := requirements/torch.txt requirements/build.txt requirements/runtime.txt requirements/tests.txt setup.py

.PHONY: install test test-gpu demo clean-venv

install: $(STAMP)

$(STAMP): $(REQS)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip<26"
	$(PIP) install -q -r requirements/torch.txt
	# after torch: torch's own install pulls in a setuptools too new for mmcv's setup.py
	$(PIP) install -q -r requirements/build.txt
	bash tools/install_mmcv.sh $(PY) $(MMCV_VER) $(FX_CACHE)
	$(PIP) install -q -r requirements/runtime.txt -r requirements/tests.txt
	$(PIP) install -q --no-deps --no-build-isolation -e .
	$(PY) -m fx_mm.env --short
	rm -f $(VENV)/.fx_mm-installed*
	variant=$$($(PY) tools/mmcv_variant.py) && touch $(VENV)/.fx_mm-installed-mmcv-$(FX_MMCV_CUDA)-$$variant

test: install
	$(PY) -m pytest -q tests

test-gpu: install
	$(PY) -m pytest -q -m gpu -rs tests

demo: install
	$(PY) tools/demo.py

clean-venv:
	rm -rf $(VENV)
