# sbx: Lua module (build/sbx/core.so + lua/sbx) and daemon (build/sbxd); build/sbx/testing.so
# holds what only the specs use and is not installed.
# `make demo` and `make test` work on a fresh Debian 12 machine: they install what is missing.

PREFIX  ?= /usr/local
DESTDIR ?=
LUA_VERSION = 5.4
LUA     ?= lua$(LUA_VERSION)
LUADIR  ?= $(PREFIX)/share/lua/$(LUA_VERSION)
LIBDIR  ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
BINDIR  ?= $(PREFIX)/bin

CC      ?= gcc
PKGS     = libcurl libuv libwebsockets jansson libssl libcrypto
CFLAGS  ?= -O2 -g
WARN     = -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes
CPPFLAGS_ALL = -Icsrc/common -Icsrc/core $(shell pkg-config --cflags lua$(LUA_VERSION) libcurl libuv libwebsockets jansson 2>/dev/null)
LIBS_CORE = $(shell pkg-config --libs libcurl libuv libwebsockets libssl libcrypto 2>/dev/null)
LIBS_SBXD = $(shell pkg-config --libs libuv libwebsockets jansson 2>/dev/null)
LIBS_LUA  = $(shell pkg-config --libs lua$(LUA_VERSION) 2>/dev/null)

# Debian packages the build, the tests, the examples and the demo need.
DEB_PKGS = build-essential pkg-config clang lua5.4 liblua5.4-dev lua-cjson lua-busted lua-ldoc \
	lua-check lua-argparse luarocks libcurl4-openssl-dev libuv1-dev libwebsockets-dev \
	libwebsockets-evlib-uv libjansson-dev libssl-dev bubblewrap procps lua-cqueues lua-luv \
	lua-socket iproute2 curl strace websocketd nginx-light python3 lua-yaml openssl

COMMON_SRC = $(wildcard csrc/common/*.c)
TESTING_SRC = csrc/lua/testing.c
CLIENT_SRC = $(wildcard csrc/core/*.c) $(COMMON_SRC)
CORE_SRC   = $(CLIENT_SRC) $(filter-out $(TESTING_SRC),$(wildcard csrc/lua/*.c))
SBXD_SRC   = $(wildcard csrc/sbxd/*.c) $(COMMON_SRC)
HEADERS    = $(wildcard csrc/*/*.h)
UNIT_SRC   = $(wildcard spec/c/test_*.c)

B ?= build
SAN_FLAGS = -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined

LUA_ENV = LUA_PATH="lua/?.lua;lua/?/init.lua;spec/?.lua;;" LUA_CPATH="$(B)/?.so;;" SBX_SBXD="$(CURDIR)/$(B)/sbxd"
BUSTED  = $(LUA) /usr/bin/busted

.PHONY: all deps test check demo bench fuzz install uninstall clean unit specs examples docs \
	lint rockspec-test check-build simulate soak bench-proxy unit-build

all: $(B)/sbx/core.so $(B)/sbx/testing.so $(B)/sbxd

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

# Each module exports its luaopen_ function only.
$(B)/sbx/core.so: $(CORE_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -fPIC -shared -fvisibility=hidden $(CPPFLAGS_ALL) -o $@ $(CORE_SRC) $(LIBS_CORE)

$(B)/sbx/testing.so: $(TESTING_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -fPIC -shared -fvisibility=hidden $(CPPFLAGS_ALL) -o $@ $(TESTING_SRC)

$(B)/sbxd: $(SBXD_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -Icsrc/sbxd $(CPPFLAGS_ALL) -o $@ $(SBXD_SRC) $(LIBS_SBXD)

# The init of a sandbox, its PID 1: libc only, so that it starts at once.
INIT_SRC = $(wildcard csrc/init/*.c)
all: $(B)/sbx-init
$(B)/sbx-init: $(INIT_SRC) $(wildcard csrc/init/*.h) csrc/common/initproto.h csrc/common/protocol.h
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -Icsrc/common -o $@ $(INIT_SRC)

# C unit tests: each spec/c/test_X.c links the whole client core and sbxd sources it needs.
UNIT_BINS = $(patsubst spec/c/%.c,$(B)/unit/%,$(UNIT_SRC))
$(B)/unit/%: spec/c/%.c $(CORE_SRC) $(SBXD_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -Icsrc/sbxd $(CPPFLAGS_ALL) -o $@ $< \
	  $(CLIENT_SRC) $(filter-out csrc/sbxd/main.c,$(wildcard csrc/sbxd/*.c)) \
	  $(LIBS_CORE) $(LIBS_SBXD) $(LIBS_LUA)

# The process layer links without libwebsockets: it knows no HTTP.
PROC_SRC = $(addprefix csrc/sbxd/,proc.c stdin.c launch.c outlog.c cpusched.c request.c util.c users.c initchan.c initmsg.c initsend.c cgroup.c cgroup_find.c cgroup_fs.c cgroup_delegate.c pty.c writers.c jbytes.c) \
	csrc/common/base64.c
$(B)/unit/test_proc: spec/c/test_proc.c $(PROC_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -Icsrc/sbxd $(CPPFLAGS_ALL) -o $@ $< $(PROC_SRC) \
	  $(shell pkg-config --libs libuv jansson 2>/dev/null)

# The cgroup module is plain libc: its test links nothing else.
CGROUP_SRC = $(wildcard csrc/sbxd/cgroup*.c)
$(B)/unit/test_cgroup: spec/c/test_cgroup.c $(CGROUP_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(WARN) $(EXTRA_CFLAGS) -Icsrc/sbxd -o $@ $< $(CGROUP_SRC)

# The embedding test loads the sbx.core and sbxd of the same build.
UNIT_ENV = SBX_TEST_CPATH="$(CURDIR)/$(B)/?.so" SBX_SBXD="$(CURDIR)/$(B)/sbxd"

# The unit tests' binaries (each links the whole core: worth building two at a time).
unit-build: all $(UNIT_BINS)

unit: all $(UNIT_BINS)
	@for t in $(UNIT_BINS); do echo "== $$t"; $(UNIT_ENV) $$t || exit 1; done

specs: all
	$(LUA_ENV) $(BUSTED) -o utfTerminal spec

# Specs too slow for `make specs` (spec/*_soak.lua): idle streams through nginx for 11
# minutes.
soak: all
	$(LUA_ENV) $(BUSTED) -o utfTerminal --pattern=_soak spec

examples: all
	@for f in examples/*.lua; do echo "== $$f"; $(LUA_ENV) $(LUA) $$f > /dev/null || exit 1; done

lint:
	@if command -v luacheck >/dev/null; then luacheck --no-color -q lua spec examples bench bin/sbx; fi

rockspec-test: all
	LUA=$(LUA) bash spec/rockspec_test.sh

# The generated reference (LDoc) of the public modules' doc comments: build/docs. Any line
# LDoc prints beyond its two progress lines is a warning, and fails the target.
docs: deps
	@out=$$(cd docs && ldoc . 2>&1 | grep -v -e '^reading configuration from' -e '^output written to'); \
	  if [ -n "$$out" ]; then echo "$$out"; echo "docs: LDoc warned"; exit 1; fi; echo "docs: build/docs"

test: deps all unit specs examples lint rockspec-test docs

# Everything again under AddressSanitizer + UBSan: the unit tests, and every spec with the
# sanitizer runtimes preloaded into lua5.4 (which is not built with them) and an
# instrumented sbxd.
ASAN_RT  = $(shell $(CC) -print-file-name=libasan.so)
UBSAN_RT = $(shell $(CC) -print-file-name=libubsan.so)
SAN_LOG  = $(CURDIR)/build-asan/report
# intercept_tls_get_addr=0: with it, LeakSanitizer's exit check reads a garbage range for
# the dynamic TLS of a module Lua dlopen'ed (glibc 2.36, gcc 12's runtime) and its tracer
# crashes, exiting 1 with "LeakSanitizer has encountered a fatal error". The blocks stay
# reachable through the thread's DTV, which the static TLS scan still covers.
SAN_ENV  = ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:intercept_tls_get_addr=0:log_path=$(SAN_LOG) \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$(SAN_LOG) \
	LSAN_OPTIONS=suppressions=$(CURDIR)/spec/lsan.supp

check-build:
	$(MAKE) B=build-asan EXTRA_CFLAGS="$(SAN_FLAGS)" CFLAGS="-O1 -g" all $(patsubst $(B)/%,build-asan/%,$(UNIT_BINS))

# Reports go to files, so one from any process (sbxd, a child Lua) fails the run too.
check: deps check-build
	@rm -f $(SAN_LOG).*
	@for t in $(patsubst $(B)/%,build-asan/%,$(UNIT_BINS)); do echo "== $$t"; \
	  $(SAN_ENV) $(subst $(CURDIR)/$(B)/,$(CURDIR)/build-asan/,$(UNIT_ENV)) $$t || exit 1; done
	@$(SAN_ENV) LD_PRELOAD="$(ASAN_RT) $(UBSAN_RT)" SBX_SANITIZED=1 \
	  spec/sanitized_specs.sh $(SAN_LOG) $(MAKE) --no-print-directory B=build-asan specs
	@if ls $(SAN_LOG).* >/dev/null 2>&1; then cat $(SAN_LOG).*; echo "sanitizer reports: see above"; exit 1; fi
	@echo "sanitizers: no reports"

demo: deps all
	$(LUA_ENV) $(LUA) examples/quickstart.lua

# Four sbxd behind nginx on loopback (deploy/local/cluster.sh), the quickstart through the
# one URL, a sandbox on each node; stopped however it ends.
SIM_DIR = $(CURDIR)/build/simulate
simulate: deps all
	@rm -rf $(SIM_DIR); SBXD=$(CURDIR)/$(B)/sbxd deploy/local/cluster.sh start $(SIM_DIR) 4 >/dev/null && \
	  . $(SIM_DIR)/env && echo "4 sbxd behind nginx at $$SBX_URL" && \
	  $(LUA_ENV) $(LUA) examples/quickstart.lua && $(LUA_ENV) $(LUA) examples/cluster.lua; \
	  status=$$?; deploy/local/cluster.sh stop $(SIM_DIR); exit $$status

$(B)/bench/spawn_baseline: bench/spawn_baseline.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ $<

# The baseline of bench/spawn_rtt.lua: a minimal lws client on a libuv loop.
$(B)/bench/ws_baseline: bench/ws_baseline.c
	@mkdir -p $(dir $@)
	$(CC) -O2 -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -o $@ $< $(shell pkg-config --libs libwebsockets libuv 2>/dev/null)

bench: deps all $(B)/bench/spawn_baseline $(B)/bench/ws_baseline
	$(LUA_ENV) $(LUA) bench/run_latency.lua
	$(LUA_ENV) $(LUA) bench/step_budget.lua
	$(LUA_ENV) $(LUA) bench/concurrency.lua
	$(LUA_ENV) $(LUA) bench/sandbox_start.lua
	$(LUA_ENV) $(LUA) bench/stream_throughput.lua
	$(LUA_ENV) $(LUA) bench/replay.lua
	$(LUA_ENV) $(LUA) bench/spawn_rtt.lua
	$(LUA_ENV) $(LUA) bench/proxy_cost.lua

# What nginx in front of sbxd costs: creates and output streams, against sbxd direct.
bench-proxy: deps all
	$(LUA_ENV) $(LUA) bench/proxy_cost.lua

FUZZ_TIME ?= 60
FUZZ_TARGETS = $(patsubst fuzz/%.c,$(B)/fuzz/%,$(wildcard fuzz/fuzz_*.c))
$(B)/fuzz/%: fuzz/%.c $(CORE_SRC) $(SBXD_SRC) $(HEADERS)
	@mkdir -p $(dir $@)
	clang -g -O1 -std=c11 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -Icsrc/sbxd $(CPPFLAGS_ALL) -o $@ $< \
	  $(CLIENT_SRC) $(filter-out csrc/sbxd/main.c,$(wildcard csrc/sbxd/*.c)) \
	  $(LIBS_CORE) $(LIBS_SBXD)

fuzz: deps $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do n=$$(basename $$t); mkdir -p $(B)/corpus/$$n; \
	  echo "== $$n ($(FUZZ_TIME) s)"; \
	  $$t -max_total_time=$(FUZZ_TIME) -print_final_stats=1 $(B)/corpus/$$n fuzz/corpus/$$n || exit 1; done

install: all
	install -d $(DESTDIR)$(LUADIR)/sbx $(DESTDIR)$(LIBDIR)/sbx $(DESTDIR)$(BINDIR)
	install -m 644 lua/sbx/*.lua $(DESTDIR)$(LUADIR)/sbx/
	install -m 755 $(B)/sbx/core.so $(DESTDIR)$(LIBDIR)/sbx/core.so
	install -m 755 $(B)/sbxd $(DESTDIR)$(LIBDIR)/sbx/sbxd
	ln -sf $(LIBDIR)/sbx/sbxd $(DESTDIR)$(BINDIR)/sbxd
	install -m 755 $(B)/sbx-init $(DESTDIR)$(LIBDIR)/sbx/sbx-init
	ln -sf $(LIBDIR)/sbx/sbx-init $(DESTDIR)$(BINDIR)/sbx-init
	sed 's|^local LUADIR, LIBDIR = nil, nil$$|local LUADIR, LIBDIR = "$(LUADIR)", "$(LIBDIR)"|' bin/sbx > $(DESTDIR)$(BINDIR)/sbx
	chmod 755 $(DESTDIR)$(BINDIR)/sbx

uninstall:
	rm -rf $(DESTDIR)$(LUADIR)/sbx $(DESTDIR)$(LIBDIR)/sbx $(DESTDIR)$(BINDIR)/sbxd $(DESTDIR)$(BINDIR)/sbx-init \
	  $(DESTDIR)$(BINDIR)/sbx

clean:
	rm -rf build build-asan
