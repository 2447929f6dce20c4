# packaging/package.mk: `make package` builds dist/vigie_<version>_amd64.deb
# and dist/vigie-<version>.x86_64.rpm from bin/vigie with nfpm (nfpm.yaml);
# `make package-check` runs lintian on the .deb and queries the .rpm.
# Included by the root Makefile, which defines VERSION, BIN and `build`.

VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo 0.0.0)
BIN ?= bin/vigie
DIST ?= dist

# nfpm runs as a Go tool at a pinned version: no binary download.
NFPM ?= go run github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2
PKG_VERSION = $(shell packaging/version.sh '$(VERSION)')
PKG_RELEASE ?= 1
PKG_MAINTAINER ?= vigie maintainers <vigie-maintainers@users.noreply.github.com>
PKG_STAGE = $(DIST)/.stage
PKG_DEB = $(DIST)/vigie_$(PKG_VERSION)_amd64.deb
PKG_RPM = $(DIST)/vigie-$(PKG_VERSION).x86_64.rpm
PKG_ENV = VIGIE_PKG_VERSION='$(PKG_VERSION)' VIGIE_PKG_RELEASE='$(PKG_RELEASE)' \
	VIGIE_BIN='$(PKG_STAGE)/vigie' \
	VIGIE_STAGE='$(PKG_STAGE)' VIGIE_MAINTAINER='$(PKG_MAINTAINER)'

.PHONY: package package-check

# The shipped binary is a stripped copy of $(BIN), as dh_strip would make it.
package: build
	@test -x '$(BIN)' || { echo 'package: $(BIN) missing: run make build' >&2; exit 1; }
	rm -rf '$(PKG_STAGE)'
	mkdir -p '$(PKG_STAGE)'
	gzip -9n < packaging/vigie.1 > '$(PKG_STAGE)/vigie.1.gz'
	packaging/changelog.sh '$(PKG_VERSION)-$(PKG_RELEASE)' '$(PKG_MAINTAINER)' | gzip -9n > '$(PKG_STAGE)/changelog.Debian.gz'
	cp '$(BIN)' '$(PKG_STAGE)/vigie'
	strip --strip-unneeded '$(PKG_STAGE)/vigie'
	rm -f '$(PKG_DEB)' '$(PKG_RPM)'
	$(PKG_ENV) $(NFPM) pkg --config nfpm.yaml --packager deb --target '$(PKG_DEB)'
	$(PKG_ENV) $(NFPM) pkg --config nfpm.yaml --packager rpm --target '$(PKG_RPM)'
	@echo 'package: $(PKG_DEB) $(PKG_RPM)'

# Needs lintian and rpm (vmtest/ci-deps.sh installs both).
package-check: package
	lintian --fail-on error,warning --display-info '$(PKG_DEB)'
	rpm -qpil '$(PKG_RPM)'
	rpm -qp --scripts '$(PKG_RPM)'
	packaging/check-packages.sh '$(PKG_DEB)' '$(PKG_RPM)'

# Install, upgrade, remove and purge on this machine (root, scratch machine
# only): the current packages, then the same built as the next version.
NEXT_VERSION ?= $(BASE_VERSION).1
.PHONY: package-lifecycle
package-lifecycle: package
	$(MAKE) --no-print-directory package VERSION='$(NEXT_VERSION)' DIST='$(DIST)/next'
	packaging/lifecycle.sh '$(PKG_DEB)' '$(DIST)/next/vigie_$(shell packaging/version.sh '$(NEXT_VERSION)')_amd64.deb' \
		'$(PKG_RPM)' '$(DIST)/next/vigie-$(shell packaging/version.sh '$(NEXT_VERSION)').x86_64.rpm'
