# vmtest/vmtest.mk: `make vmtest` boots Debian 12 and Debian 13 guests under
# qemu (TCG) and checks vigie from inside and from outside.
# Included by the root Makefile; needs root and the tools of vmtest/ci-deps.sh.
# See vmtest/README.md.

GO ?= go
# Upper bound for the whole run; every wait inside has its own deadline.
VMTEST_TIMEOUT ?= 80m
# Extra `go test` flags, e.g. VMTEST_FLAGS='-run TestFirstBootPackage'.
VMTEST_FLAGS ?=

.PHONY: vmtest vmtest-faults

vmtest: package
	otelcol="$$($(OTELCOL))" && VIGIE_OTELCOL="$$otelcol" VIGIE_DEB='$(abspath $(PKG_DEB))' VIGIE_BINARY='$(abspath $(BIN))' \
		$(GO) test -tags vmtest -count=1 -v -timeout $(VMTEST_TIMEOUT) $(VMTEST_FLAGS) ./vmtest/

# The whole fault-injection matrices: ssh and firewall on both suites,
# disks in TestFixPatchesDisks (CI runs their representative parts within
# `make vmtest`).
vmtest-faults: package
	VIGIE_VMTEST_FAULTS=1 VIGIE_DEB='$(abspath $(PKG_DEB))' VIGIE_BINARY='$(abspath $(BIN))' \
		$(GO) test -tags vmtest -count=1 -v -timeout $(VMTEST_TIMEOUT) -run 'TestFaults|TestDebian13|TestFixPatchesDisks' ./vmtest/
