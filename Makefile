# Two commands a newcomer needs (see README.md):
#   make demo   local control plane + AWS emulator + operator + the dev example, until Ready
#   make test   the whole test suite (what CI runs through .ci/run)
#
# Everything built is cached under $(REDCAP_CACHE) so the second run is fast.

REDCAP_CACHE ?= $(HOME)/.cache/redcap-operator
export REDCAP_CACHE
export CARGO_TARGET_DIR ?= $(REDCAP_CACHE)/target

.PHONY: demo test lint unit e2e crds bench help

help:
	@echo "make demo   - run the operator end to end on a local kube-apiserver + moto"
	@echo "make test   - run the whole test suite (lint, unit, e2e, chart)"
	@echo "make crds   - regenerate crds/, the chart's copy and manifests/install from the Rust types"
	@echo "make bench  - benchmark 50 environments (prints figures; not a test)"

demo:
	bash e2e/scripts/demo.sh

test:
	bash e2e/scripts/test-all.sh

crds:
	cargo run -q -p redcap-operator -- crd > crds/redcapenvironments.redcap.dev.yaml
	bash charts/redcap-operator/sync-crds.sh
	eval "$$(bash e2e/scripts/build-tools.sh)" && bash manifests/install/generate.sh

bench:
	bash e2e/bench/run.sh
