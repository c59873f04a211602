# oauth2-spoa - HAProxy SPOE agent validating OAuth 2.0 bearer tokens.
# `make help` lists the targets.

PKG_CONFIG ?= pkg-config
DEPS       := libcurl jansson yaml-0.1 libcrypto hiredis libmicrohttpd cjose
LIBEV_LIBS ?= -lev                  # Debian's libev-dev ships no libev.pc
CC         ?= cc
CFLAGS     ?= -O2 -g
WARN       := -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wformat=2 -Wvla
CPPFLAGS   += -D_GNU_SOURCE -Ispoa $(shell $(PKG_CONFIG) --cflags $(DEPS))
LDLIBS     += $(shell $(PKG_CONFIG) --libs $(DEPS)) $(LIBEV_LIBS) -lpthread -lm
VERSION    := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
CPPFLAGS   += -DOAUTH2_SPOA_VERSION='"$(VERSION)"'

# B is the build directory; the sanitizer build uses build/asan.
B          ?= build
ifdef SANITIZE
CFLAGS     += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS    += -fsanitize=$(SANITIZE)
endif

SRC        := $(wildcard spoa/*.c)
LIB_SRC    := $(filter-out spoa/main.c,$(SRC))
OBJ        := $(LIB_SRC:spoa/%.c=$(B)/obj/%.o)
UNIT_SRC   := $(wildcard tests/unit/test_*.c)
UNIT_BIN   := $(UNIT_SRC:tests/unit/%.c=$(B)/tests/%)
FUZZ_SRC   := $(wildcard tests/fuzz/fuzz_*.c)
REPLAY_BIN := $(FUZZ_SRC:tests/fuzz/fuzz_%.c=$(B)/replay/%)
TOOL_SRC   := $(wildcard tests/tools/*.c)
TOOL_BIN   := $(TOOL_SRC:tests/tools/%.c=$(B)/tools/%)
BENCH_SRC  := $(wildcard tests/bench/*.c)
BENCH_BIN  := $(BENCH_SRC:tests/bench/%.c=$(B)/bench/%)

# `make install` (DESTDIR, PREFIX and the directories below; contrib/tools/install.sh has the list)
PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
MANDIR     ?= $(PREFIX)/share/man
DATADIR    ?= $(PREFIX)/share
UNITDIR    ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
INSTALL_VARS = BUILD=$(B) DESTDIR=$(DESTDIR) BINDIR=$(BINDIR) MANDIR=$(MANDIR) DATADIR=$(DATADIR) \
	       UNITDIR=$(UNITDIR) SYSCONFDIR=$(SYSCONFDIR)

ifeq ($(V),1)
Q :=
else
Q := @
endif

.PHONY: all help unit e2e asan fuzz fuzz-build fuzz-replay test test-suites clean format format-check include-check lint demo demo-stop bench \
	install uninstall

all: $(B)/oauth2-spoa $(B)/oauth2-spoa.8 $(TOOL_BIN)

help:
	@echo "make              build build/oauth2-spoa"
	@echo "make test         installs what is missing, then unit + e2e (real HAProxy 2.6/3.0/3.2/3.4, Hydra, Docker) + ASan/UBSan + fuzz replay"
	@echo "make demo         Hydra + HAProxy + oauth2-spoa on 127.0.0.1, then the walkthrough (make demo-stop ends it)"
	@echo "make unit         unit tests only"
	@echo "make e2e          end-to-end tests only"
	@echo "make bench        performance figures (SPOP engine, wrk+HAProxy, Hydra, memory)"
	@echo "make fuzz         libFuzzer targets (clang), FUZZ_SECONDS=N each"
	@echo "make format       clang-format every C file"
	@echo "make install      binary, man page, systemd unit, config, policies, HAProxy files (PREFIX, DESTDIR)"
	@echo "make uninstall    remove them (configuration changed locally is kept)"

$(B)/obj/%.o: spoa/%.c $(wildcard spoa/*.h) | $(B)/obj
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) -c -o $@ $<

$(B)/liboauth2spoa.a: $(OBJ)
	@echo "  AR      $@"
	$(Q)rm -f $@ && $(AR) rcs $@ $^

$(B)/oauth2-spoa: $(B)/obj/main.o $(B)/liboauth2spoa.a
	@echo "  LD      $@"
	$(Q)$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# The man page's OPTIONS are the agent's own --help text (spoa/options.c): one source.
$(B)/oauth2-spoa.8: $(B)/oauth2-spoa contrib/man/oauth2-spoa.8.in contrib/tools/mkman.sh
	@echo "  MAN     $@"
	$(Q)sh contrib/tools/mkman.sh $(B)/oauth2-spoa contrib/man/oauth2-spoa.8.in SYSCONFDIR=$(SYSCONFDIR) \
		DATADIR=$(DATADIR) >$@.tmp && mv $@.tmp $@

install: $(B)/oauth2-spoa $(B)/oauth2-spoa.8
	$(Q)$(INSTALL_VARS) sh contrib/tools/install.sh install

uninstall:
	$(Q)$(INSTALL_VARS) sh contrib/tools/install.sh uninstall

$(B)/tests/%: tests/unit/%.c tests/unit/tap.h $(B)/liboauth2spoa.a | $(B)/tests
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) -Itests/unit $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/liboauth2spoa.a $(LDLIBS)

# test_authz interposes on tcache_complete() to replay a shutdown race exactly.
$(B)/tests/test_authz: LDFLAGS += -Wl,--wrap=tcache_complete
$(B)/tests/test_authz $(B)/tests/test_authz_claims: tests/unit/authz_idp.h

# The decision module's fake-driven tests (tests/unit/authz_fake.h): a fake
# clock (libev's ev_now) and a fake HTTP client, by link-time wrapping only.
AUTHZ_FAKE_TESTS := $(B)/tests/test_authz_answer $(B)/tests/test_authz_pipeline $(B)/tests/test_authz_fetch \
	$(B)/tests/test_validator_userinfo
$(AUTHZ_FAKE_TESTS): tests/unit/authz_fake.h
$(AUTHZ_FAKE_TESTS): LDFLAGS += -Wl,--wrap=ev_now -Wl,--wrap=http_client_new \
	-Wl,--wrap=http_client_post -Wl,--wrap=http_client_cancel_all -Wl,--wrap=http_client_free

$(B)/tools/%: tests/tools/%.c $(B)/liboauth2spoa.a | $(B)/tools
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/liboauth2spoa.a $(LDLIBS)

# A test tool with a test-only library (libseccomp-dev, TEST_PKGS): built for e2e, not by `make`.
$(B)/tools/seccomp_exec: tests/sandbox/seccomp_exec.c | $(B)/tools
	@echo "  CC      $@"
	$(Q)$(CC) $(WARN) $(CFLAGS) $$(pkg-config --cflags libseccomp) -o $@ $< $$(pkg-config --libs libseccomp)

$(B)/bench/%: tests/bench/%.c $(B)/liboauth2spoa.a | $(B)/bench
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< $(B)/liboauth2spoa.a $(LDLIBS)

$(B)/replay/%: tests/fuzz/fuzz_%.c tests/fuzz/replay_main.c $(B)/liboauth2spoa.a | $(B)/replay
	@echo "  CC      $@"
	$(Q)$(CC) $(CPPFLAGS) $(WARN) $(CFLAGS) $(LDFLAGS) -o $@ $< tests/fuzz/replay_main.c $(B)/liboauth2spoa.a $(LDLIBS)

$(B)/obj $(B)/tests $(B)/replay $(B)/tools $(B)/bench:
	$(Q)mkdir -p $@

unit: $(UNIT_BIN)
	$(Q)tests/run-unit.sh $(UNIT_BIN)

fuzz-replay: $(REPLAY_BIN)
	$(Q)tests/fuzz/replay.sh $(B)/replay

e2e: $(B)/oauth2-spoa $(TOOL_BIN) $(B)/tools/seccomp_exec
	$(Q)AGENT=$(CURDIR)/$(B)/oauth2-spoa TOOLS=$(CURDIR)/$(B)/tools tests/e2e/run.sh

# Performance figures (a table, never pass/fail); knobs in tests/bench/run.sh.
bench: $(B)/oauth2-spoa $(TOOL_BIN) $(BENCH_BIN)
	$(Q)AGENT=$(CURDIR)/$(B)/oauth2-spoa BENCH=$(CURDIR)/$(B)/bench TOOLS=$(CURDIR)/$(B)/tools tests/bench/run.sh

# The sanitizer build: same sources, ASan+UBSan, unit + fuzz replay + e2e.
# E2E_PASS=asan lets a test shorten itself (t42: load) or use the plain build (t44: valgrind).
asan:
	$(Q)E2E_PASS=asan $(MAKE) --no-print-directory B=build/asan SANITIZE=address,undefined CFLAGS="-O1 -g" all unit fuzz-replay e2e

# `make test` on a fresh machine: first the prerequisites (tests/tools/test-prereqs.sh: root,
# the missing Debian packages, the cached chroots/Hydra/oidc-provider), then every suite.
# PREREQS_ONLY=1 stops after the first phase. The bench tools are compiled too, so that a codec
# change cannot silently break them.
test:
	$(Q)bash tests/tools/test-prereqs.sh
ifeq ($(PREREQS_ONLY),1)
	@echo "make test: prerequisites ready; stopped before the suites (PREREQS_ONLY=1)"
else
	$(Q)$(MAKE) --no-print-directory test-suites
endif

test-suites: all $(BENCH_BIN) format-check include-check unit fuzz-replay e2e asan
	@echo "make test: all suites passed"

# The module graph of spoa/ must flow one way (tests/tools/include_graph.py --layers prints it).
include-check:
	$(Q)python3 tests/tools/include_graph.py spoa

fuzz:
	$(Q)tests/fuzz/run.sh $(or $(FUZZ_SECONDS),60)

# The newcomer path: installs the missing Debian packages, builds, starts the stack in the
# background and plays the walkthrough (contrib/demo/demo.sh; DEMO_* variables move the ports).
demo:
	$(Q)bash contrib/demo/demo.sh start

demo-stop:
	$(Q)bash contrib/demo/demo.sh stop

C_FILES := $(wildcard spoa/*.c spoa/*.h tests/unit/*.c tests/unit/*.h tests/fuzz/*.c tests/bench/*.c tests/tools/*.c tests/sandbox/*.c)

format:
	clang-format -i $(C_FILES)

# Style gate run by `make test`: every C file is as clang-format leaves it.
format-check:
	$(Q)clang-format --dry-run -Werror $(C_FILES) && echo "format-check: $(words $(C_FILES)) files clean"

clean:
	rm -rf build
