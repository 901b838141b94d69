# The two commands of the README: `make run` and `make test`. Each does its own set-up:
# a virtual environment in .venv with the pinned CPU build of torch and this package.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
TORCH_CPU := torch==2.13.0

PEERS := .venv-peers
PEERS_STAMP := $(PEERS)/.installed
# torchvision only imports beside this torch build; it is a CUDA build that runs on the CPU here.
PEER_PACKAGES := torch==2.14.1 torchvision==0.29.1 kornia albumentations timm==1.0.31 \
	tsaug audiomentations nlpaug torch_geometric
# tsaug (series), audiomentations (waveforms), nlpaug (EDA-style word ops) and PyG (point-cloud
# transforms) are the per-modality peers of `make bench`.
# timm is the oracle of `make conformance` for policy strings.
# torchaug (batched policies) is installed afterwards with --no-deps, so it cannot replace the pinned torch.

.PHONY: run test bench bench-train conformance install

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check $(TORCH_CPU)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	$(BIN)/python -m augbench.native
	touch $@

run: $(STAMP)
	$(BIN)/augbench run --config configs/digits.yaml

test: $(STAMP)
	$(BIN)/python -m pytest -q

$(PEERS_STAMP): pyproject.toml Makefile
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check $(PEER_PACKAGES)
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check -e .
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps torchaug
	# torch-audiomentations needs torchaudio; none is built for torch 2.14.1, and 2.11.1 (which does
	# not pin torch) imports and runs beside it. --no-deps keeps pip from replacing torch.
	$(PEERS)/bin/python -m pip install --quiet --disable-pip-version-check --no-deps \
		torch-audiomentations==0.12.0 torchaudio==2.11.1 julius torch-pitch-shift primePy
	touch $@

bench: $(PEERS_STAMP)
	$(PEERS)/bin/python benchmarks/throughput.py && $(PEERS)/bin/python benchmarks/policies.py
	$(PEERS)/bin/python benchmarks/mixing.py
	cd benchmarks && AUGBENCH_DATA=$${AUGBENCH_DATA:-$(CURDIR)/../shared/data} ../$(PEERS)/bin/python timeseries.py
	for modality in audio points sequence skeleton text; do \
		AUGBENCH_DATA=$${AUGBENCH_DATA:-$(CURDIR)/../shared/data} $(PEERS)/bin/python benchmarks/$$modality.py || exit 1; done

# A whole training step (LeNet and preact ResNet-18 on CIFAR-10) fed by torchvision in DataLoader
# workers or by augbench on the collated batch: images/s and the augmentation share of each.
bench-train: $(PEERS_STAMP)
	AUGBENCH_DATA=$${AUGBENCH_DATA:-$(CURDIR)/../shared/data} $(PEERS)/bin/python benchmarks/train_loop.py
	AUGBENCH_DATA=$${AUGBENCH_DATA:-$(CURDIR)/../shared/data} $(PEERS)/bin/python benchmarks/train_loop.py --model preact_resnet18 --steps 8 --warmup 2

# A report, not a test: kernels vs torchvision and Pillow, policy strings vs timm, on real
# CIFAR-10 images from ../shared/data/cifar10 (or $AUGBENCH_DATA/cifar10). Exits 0 unless the suite crashes.
conformance: $(PEERS_STAMP)
	$(PEERS)/bin/python conformance/run.py
