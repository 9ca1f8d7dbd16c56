# cdc-agent: build, test, install, demo.  See README.md.
#
#   make            build ./cdc-agent (-Wall -Wextra -Werror, C11)
#   make asan       build build/asan/cdc-agent with ASan+UBSan
#   make test       the whole suite (tests/README.md): the fast lane first,
#                   then integration tests against real servers, with the
#                   normal and the sanitizer build
#   make test-unit  the fast lane alone: unit tests (both builds) and the
#                   tree's checks (layering, the map); no server needed
#   make test-integration  integration tests and fuzz replays alone
#   make man        build/man/cdc-agent.8 and cdc-agent.ini.5 (the keys from
#                   the schema in agent/config/topology.c)
#   make install    PREFIX=/usr/local DESTDIR=
#   make deb        a Debian package in build/deb/ (DEB_VERSION=, debian/)
#   make demo       the seed topology on this machine
#   make fuzz       libFuzzer targets (clang), FUZZ_SECONDS each; see tests/fuzz/

PREFIX ?= /usr/local
DESTDIR ?=
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo 0.1.0)

PKGS := libpq rdkafka libcurl libsystemd jansson libcrypto libarchive libmicrohttpd
PKG_CFLAGS := $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS := $(shell pkg-config --libs $(PKGS) 2>/dev/null)

CC ?= cc
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wformat=2 -Wno-format-nonliteral
BASE_CFLAGS := -std=c11 -D_GNU_SOURCE -g -Iagent $(WARN) $(PKG_CFLAGS) \
	-DCDC_AGENT_VERSION='"$(VERSION)"'
CFLAGS ?= -O2
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all

# Sources in agent/ and its folders (docs/ARCHITECTURE.md, "Layout").
SRCS := $(wildcard agent/*.c agent/*/*.c)
LIB_SRCS := $(filter-out agent/main.c,$(SRCS))
# Every compile writes its header dependencies (-MMD) next to the object;
# -MP keeps a removed header from breaking the build.
DEPFLAGS = -MMD -MP

REL_OBJS := $(SRCS:agent/%.c=build/rel/%.o)
SAN_OBJS := $(SRCS:agent/%.c=build/asan/%.o)
UNIT_TESTS := $(patsubst tests/unit/%.c,%,$(wildcard tests/unit/test_*.c))

.DELETE_ON_ERROR:

.PHONY: all asan test test-unit test-integration unit-build integration-build install deb demo deps \
	clean bench bench-tls fuzz fuzz-build man

all: cdc-agent

cdc-agent: $(REL_OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

build/rel/%.o: agent/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -c -o $@ $<

asan: build/asan/cdc-agent

build/asan/cdc-agent: $(SAN_OBJS)
	$(CC) $(SAN_FLAGS) $(LDFLAGS) -o $@ $^ $(PKG_LIBS) $(LDLIBS)

build/asan/%.o: agent/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) -O1 $(SAN_FLAGS) $(DEPFLAGS) -c -o $@ $<

build/tests:
	mkdir -p $@

# Unit tests link the agent's objects (all but main) with cmocka, in both
# builds; $^ also holds the headers their .d files list, hence the filter.
build/tests/%-rel: tests/unit/%.c $(filter-out build/rel/main.o,$(REL_OBJS)) | build/tests
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(DEPFLAGS) -Iagent $(LDFLAGS) -o $@ \
		$(filter %.c %.o,$^) $(PKG_LIBS) -lcmocka $(LDLIBS)
build/tests/%-asan: tests/unit/%.c $(filter-out build/asan/main.o,$(SAN_OBJS)) | build/tests
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) -O1 $(SAN_FLAGS) $(DEPFLAGS) -Iagent $(LDFLAGS) -o $@ \
		$(filter %.c %.o,$^) $(PKG_LIBS) -lcmocka $(LDLIBS)

# Manual pages (docs/man/): the hand-written pages with the version and
# date filled in; cdc-agent.ini(5) gets its sections and keys from the
# schema tables, through the hidden verb `cdc-agent schema-roff`, in place of
# its @KEYS@ line.  The date is the last commit's, so a rebuild of one
# commit gives the same pages (SOURCE_DATE_EPOCH first, as Debian sets it).
MAN_DATE := $(shell { [ -n "$$SOURCE_DATE_EPOCH" ] && date -u -d "@$$SOURCE_DATE_EPOCH" +%F; } \
	|| git log -1 --format=%cs 2>/dev/null || date -u +%F)
MAN_PAGES := build/man/cdc-agent.8 build/man/cdc-agent.ini.5
MAN_SUBST := -e 's|@VERSION@|$(VERSION)|g' -e 's|@DATE@|$(MAN_DATE)|g'

man: $(MAN_PAGES)

build/man/cdc-agent.8: docs/man/cdc-agent.8.in
	@mkdir -p $(@D)
	sed $(MAN_SUBST) $< >$@
build/man/cdc-agent.ini.5: docs/man/cdc-agent.ini.5.in cdc-agent
	@mkdir -p $(@D)
	./cdc-agent schema-roff >$@.keys
	sed $(MAN_SUBST) -e '/^@KEYS@$$/{' -e 'r $@.keys' -e 'd' -e '}' $< >$@
	rm -f $@.keys

# Drivers of integration tests (55_kafka_out.sh, 72_slot_watch.sh,
# 76_kafka_access.sh, 83_apply_values.sh, 86_apply_hostile.sh,
# 93_status_http.sh): the agent's objects (all but main), no cmocka; -asan
# with the sanitizers.
DRIVERS := kafka_out_driver slot_watch_driver apply_values_driver kafka_admin_driver \
	kafka_access_driver \
	status_http_driver
build/tests/%_driver: tests/%_driver.c $(filter-out build/rel/main.o,$(REL_OBJS)) | build/tests
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) $(CFLAGS) $(DEPFLAGS) -Iagent $(LDFLAGS) -o $@ \
		$(filter %.c %.o,$^) $(PKG_LIBS) $(LDLIBS)
build/tests/%_driver-asan: tests/%_driver.c $(filter-out build/asan/main.o,$(SAN_OBJS)) | build/tests
	$(CC) $(BASE_CFLAGS) $(CPPFLAGS) -O1 $(SAN_FLAGS) $(DEPFLAGS) -Iagent $(LDFLAGS) -o $@ \
		$(filter %.c %.o,$^) $(PKG_LIBS) $(LDLIBS)

# Fuzzing (README.md, "Fuzzing"): libFuzzer targets in tests/fuzz/, built by
# clang in build/fuzz/ (gcc's builds untouched).  `make fuzz` runs each for
# FUZZ_SECONDS and merges what found new coverage into its corpus; `make test`
# replays the corpora with gcc's ASan+UBSan build (test_fuzz_*-asan).
FUZZ_TARGETS := topology pgoutput apply_event
FUZZ_SECONDS ?= 60
FUZZ_CC ?= clang
FUZZ_OBJS := $(LIB_SRCS:agent/%.c=build/fuzz/%.o)
FUZZ_REPLAYS := $(FUZZ_TARGETS:%=build/tests/test_fuzz_%-asan)
.SECONDARY: $(FUZZ_OBJS)

build/fuzz:
	mkdir -p $@
build/fuzz/%.o: agent/%.c
	@mkdir -p $(@D)
	$(FUZZ_CC) $(BASE_CFLAGS) $(CPPFLAGS) -O1 $(SAN_FLAGS) -fsanitize=fuzzer-no-link $(DEPFLAGS) \
		-c -o $@ $<
build/fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_common.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(BASE_CFLAGS) -O1 $(SAN_FLAGS) -fsanitize=fuzzer -Iagent -o $@ \
		$(filter %.c %.o,$^) $(PKG_LIBS)
build/tests/test_fuzz_%-asan: tests/fuzz/fuzz_%.c tests/fuzz/replay.c tests/fuzz/fuzz_common.c \
		tests/fuzz/fuzz.h $(filter-out build/asan/main.o,$(SAN_OBJS)) | build/tests
	$(CC) $(BASE_CFLAGS) -O1 $(SAN_FLAGS) -Iagent -DFUZZ_NAME='"$*"' -o $@ \
		$(filter %.c %.o,$^) $(PKG_LIBS)

# Writes the seed-* inputs of the corpora from real bytes (see its header).
build/fuzz/make_seeds: tests/fuzz/make_seeds.c tests/unit/pgoutput_fixtures.h \
		$(filter-out build/rel/main.o,$(REL_OBJS)) | build/fuzz
	$(CC) $(BASE_CFLAGS) $(CFLAGS) -Iagent -o $@ $(filter %.c %.o,$^) $(PKG_LIBS)

fuzz-build: $(FUZZ_TARGETS:%=build/fuzz/fuzz_%)
fuzz: fuzz-build
	tests/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

deps:
	@scripts/install-deps.sh

# The fast lane (unit tests in both builds, the tree's checks) needs no
# server and runs first; `make test` stops there when it fails.
# The pages too: test_topo_doc reads the built cdc-agent.ini.5, and
# tests/tree/man_pages.sh renders both.
unit-build: $(UNIT_TESTS:%=build/tests/%-rel) $(UNIT_TESTS:%=build/tests/%-asan) man
integration-build: all asan $(DRIVERS:%=build/tests/%) $(DRIVERS:%=build/tests/%-asan) \
	$(FUZZ_REPLAYS)

test-unit: unit-build
	tests/run.sh --unit

test-integration: integration-build
	tests/run.sh --integration

test: deps
	$(MAKE) unit-build integration-build
	tests/run.sh

# A Debian package (README.md, "Install as a Debian package"): debian/rules
# runs `make` and `make install PREFIX=/usr` in a copy of the tree's files
# (tracked and new, not ignored) under build/deb/, so dpkg-buildpackage writes
# nothing into the checkout; the .deb lands in build/deb/.  DEB_VERSION (by
# default 0.<commits on HEAD>) becomes a changelog entry above debian/
# changelog's in that copy: another DEB_VERSION, another (newer) build.
# lintian, when installed, must find no error (warnings: debian/README.lintian).
DEB_VERSION ?= 0.$(shell git rev-list --count HEAD 2>/dev/null || echo 0)
DEB_SRC := build/deb/src/cdc-agent-$(DEB_VERSION)

deb:
	rm -rf build/deb/src
	mkdir -p $(DEB_SRC)
	git ls-files -z --cached --others --exclude-standard | \
		tar --null -T - --ignore-failed-read -cf - | tar -xf - -C $(DEB_SRC)
	scripts/deb-changelog.sh $(DEB_SRC)/debian "$(DEB_VERSION)" "$(VERSION)"
	cd $(DEB_SRC) && dpkg-buildpackage -us -uc -b
	mv build/deb/src/*_$(DEB_VERSION)_* build/deb/
	rm -rf build/deb/src
	@if command -v lintian >/dev/null; then \
		echo "lintian build/deb/cdc-agent_$(DEB_VERSION)_*.changes"; \
		lintian --fail-on error --info build/deb/cdc-agent_$(DEB_VERSION)_*.changes; \
	else echo "lintian not installed: package not checked" >&2; fi

install: cdc-agent man
	install -D -m 0755 cdc-agent $(DESTDIR)$(PREFIX)/bin/cdc-agent
	install -D -m 0644 build/man/cdc-agent.8 $(DESTDIR)$(PREFIX)/share/man/man8/cdc-agent.8
	install -D -m 0644 build/man/cdc-agent.ini.5 $(DESTDIR)$(PREFIX)/share/man/man5/cdc-agent.ini.5
	install -D -m 0644 scripts/completion/cdc-agent.bash \
		$(DESTDIR)$(PREFIX)/share/bash-completion/completions/cdc-agent
	install -D -m 0644 cdc-agent.ini $(DESTDIR)$(PREFIX)/share/cdc-agent/cdc-agent.ini.example
	install -d $(DESTDIR)$(PREFIX)/share/cdc-agent/units $(DESTDIR)$(PREFIX)/share/cdc-agent/templates
	install -m 0644 units/* $(DESTDIR)$(PREFIX)/share/cdc-agent/units/
	install -m 0644 templates/* $(DESTDIR)$(PREFIX)/share/cdc-agent/templates/

# deps first, then a sub-make: the pkg-config flags above are computed when
# make starts, which on a fresh machine is before deps installed the -dev
# packages.
demo: deps
	$(MAKE) all
	scripts/demo.sh

# Benchmarks (as root; each rewrites its own section of docs/BENCHMARKS.md).
bench: deps
	$(MAKE) all
	scripts/bench-capture.sh
	scripts/bench-snapshot.sh
	scripts/bench-pipeline.sh
	scripts/bench-txn.sh
	scripts/bench-agent.sh
	scripts/bench-tables.sh
	scripts/bench-start.sh
	scripts/bench-tls.sh

# The cost of Kafka over SASL_SSL alone, to rerun without the whole bench.
bench-tls: deps
	$(MAKE) all
	scripts/bench-tls.sh

clean:
	rm -rf build cdc-agent

-include $(shell find build -name '*.d' 2>/dev/null)
