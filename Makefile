# mc-edge: FastCGI programs for Mission Control's exposed endpoints.
#
#   make                  build the programs into cgi-bin/
#   make SANITIZE=1       build with AddressSanitizer and UBSan into build/sanitize/
#   make test             run every test (unit, fuzz smoke, integration, both builds)
#   make interop          run against the real OpenClaw gateway (needs npm)
#   make run              serve a demo on 127.0.0.1:8080 (PORT overrides)
#   make install PREFIX=/usr/local DESTDIR=
#   make clean
#
# The project's warning and hardening flags live in EDGE_CFLAGS; CFLAGS,
# CPPFLAGS and LDFLAGS stay the user's and come last, so they can override.

CC ?= cc
CFLAGS ?= -O2 -g
PREFIX ?= /usr/local
LIBEXECDIR ?= $(PREFIX)/libexec/mc-edge
SHAREDIR ?= $(PREFIX)/share/mc-edge
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
PKG_CONFIG ?= pkg-config

PACKAGES := libpq json-c openssl hiredis libwebsockets
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PACKAGES))
PKG_LIBS := $(shell $(PKG_CONFIG) --libs $(PACKAGES)) -lfcgi

EDGE_CFLAGS := -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -Wformat=2 \
	-Werror=format-security -Wshadow -Wvla -Wstrict-prototypes \
	-fstack-protector-strong -fPIE -Icommon
EDGE_LDFLAGS := -pie -Wl,-z,relro,-z,now

# SANITIZE=1 selects a separate tree so both builds can coexist.
ifeq ($(SANITIZE),1)
BUILD := build/sanitize
BINDIR := build/sanitize/cgi-bin
ADMINDIR := build/sanitize/bin
EDGE_CFLAGS += -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=undefined
EDGE_LDFLAGS += -fsanitize=address,undefined
else ifneq ($(SANITIZE),)
$(error SANITIZE must be 1 or empty, not '$(SANITIZE)')
else
BUILD := build/release
BINDIR := cgi-bin
ADMINDIR := bin
# _FORTIFY_SOURCE needs optimization, which the sanitizer build keeps low.
EDGE_CFLAGS += -D_FORTIFY_SOURCE=2
endif

COMMON_SOURCES := $(wildcard common/*.c)
COMMON_OBJECTS := $(COMMON_SOURCES:%.c=$(BUILD)/%.o)
LIBRARY := $(BUILD)/libedge.a

# One entry per endpoint: its binary and the sources that make it.
PROGRAMS := webhook-ingest agent-auth gateway-message
webhook-ingest_SOURCES := cgi-bin/webhook_ingest.c cgi-bin/webhook_store.c \
	cgi-bin/webhook_capture.c cgi-bin/webhook_note.c
agent-auth_SOURCES := cgi-bin/agent_auth.c cgi-bin/agent_lookup.c cgi-bin/agent_routes.c
gateway-message_SOURCES := $(wildcard cgi-bin/gateway_message*.c)

BINARIES := $(PROGRAMS:%=$(BINDIR)/%)

# The operator's command-line tool.
ADMIN := $(ADMINDIR)/mc-edge-admin
ADMIN_SOURCES := $(wildcard admin/*.c)
ADMIN_OBJECTS := $(ADMIN_SOURCES:%.c=$(BUILD)/%.o)

# The long-running process that delivers webhook notifications.
DISPATCHER := $(ADMINDIR)/mc-edge-dispatcher
DISPATCHER_SOURCES := $(wildcard dispatcher/*.c)
DISPATCHER_OBJECTS := $(DISPATCHER_SOURCES:%.c=$(BUILD)/%.o)
UNIT_SOURCES := $(wildcard tests/unit/test_*.c)
UNIT_BINARIES := $(UNIT_SOURCES:tests/unit/%.c=$(BUILD)/tests/%)
BENCH_BINARIES := $(BUILD)/bench/bare-insert $(BUILD)/bench/bare-evalsha

ALL_CFLAGS = $(EDGE_CFLAGS) $(PKG_CFLAGS) $(CPPFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(EDGE_LDFLAGS) $(LDFLAGS)

.PHONY: all unit-tests bench-binaries test run install clean fuzz interop
all: $(BINARIES) $(ADMIN) $(DISPATCHER)

$(BUILD)/%.o: %.c $(wildcard common/*.h cgi-bin/*.h admin/*.h dispatcher/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBRARY): $(COMMON_OBJECTS)
	@rm -f $@
	$(AR) rcs $@ $^

# One explicit link rule per program: a pattern rule on cgi-bin/ would also
# match the sources that live there.
define program_rule
$(BINDIR)/$(1): $$($(1)_SOURCES:%.c=$(BUILD)/%.o) $(LIBRARY)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(ALL_LDFLAGS) $$^ $$(PKG_LIBS) -o $$@
endef
$(foreach program,$(PROGRAMS),$(eval $(call program_rule,$(program))))

$(ADMIN): $(ADMIN_OBJECTS) $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

$(DISPATCHER): $(DISPATCHER_OBJECTS) $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) $^ $(PKG_LIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(LIBRARY) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Itests/unit $(ALL_LDFLAGS) $< $(LIBRARY) $(PKG_LIBS) -o $@

$(BUILD)/bench/%: bench/%.c $(LIBRARY)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) $< $(LIBRARY) $(PKG_LIBS) -o $@

unit-tests: $(UNIT_BINARIES)
bench-binaries: $(BENCH_BINARIES)

test:
	tests/run

# run-demo installs missing packages before it builds, so no prerequisite here.
run:
	scripts/run-demo

fuzz:
	tests/fuzz/run.sh

# The suite against the real OpenClaw gateway, inside a loopback-only network
# namespace; scripts/interop installs what it needs under a private prefix.
interop:
	scripts/interop

install: all
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(SHAREDIR)/sql \
		$(DESTDIR)$(SHAREDIR)/scripts $(DESTDIR)$(PREFIX)/bin
	install -m 0755 $(ADMIN) $(DISPATCHER) $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(BINARIES) $(DESTDIR)$(LIBEXECDIR)/
	install -m 0644 sql/schema.sql $(DESTDIR)$(SHAREDIR)/sql/
	install -m 0644 lighttpd.conf $(DESTDIR)$(SHAREDIR)/
	install -m 0755 scripts/lighttpd-settings $(DESTDIR)$(SHAREDIR)/scripts/
	install -d $(DESTDIR)$(SHAREDIR)/errors
	install -m 0644 errors/status-*.html $(DESTDIR)$(SHAREDIR)/errors/
	install -d $(DESTDIR)$(SYSTEMDUNITDIR)
	sed 's#/usr/local/bin/#$(PREFIX)/bin/#' systemd/mc-edge-dispatcher.service \
		>$(DESTDIR)$(SYSTEMDUNITDIR)/mc-edge-dispatcher.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/mc-edge-dispatcher.service

clean:
	rm -rf build bin $(PROGRAMS:%=cgi-bin/%)
