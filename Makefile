# hfshim: LD_PRELOAD shim + hfrun. See README.md.
VERSION := 0.1.0
BUILD ?= build
PREFIX ?= /usr/local
OPT ?= -O2
SAN ?=
PYTHON ?= python3

DEBIAN_PKGS := build-essential pkg-config libcurl4-openssl-dev libjsmn-dev libxxhash-dev \
	check libsubunit-dev libssl-dev libseccomp-dev liburing-dev python3 curl coreutils tar findutils \
	unzip rsync nodejs npm

WARN := -Wall -Wextra -Werror
# gcc's truncation guesses fire on every bounded path copy; real truncation is checked (hfs_fmt).
WARN += $(shell $(CC) -Werror -Wno-format-truncation -E -x c /dev/null >/dev/null 2>&1 && echo -Wno-format-truncation)
# core/, by concern (README "Where the code is"): base/ helpers and the libc seam, net/ the
# network module (and its loader), cache/ snapshots and indexes, file/ a remote file's bytes,
# vfs/ the namespace and its operations, overlay/ the overlay's layout and administration,
# push/ uploads, hfrun/ the CLI, super/ the supervisor. Headers are included by name.
CORE_DIRS := base net cache file vfs overlay push
CORE_INC := $(addprefix -Icore/,$(CORE_DIRS) super)
CFLAGS_ALL := -std=c11 -D_GNU_SOURCE -g $(OPT) $(WARN) -fPIC -fvisibility=hidden -pthread \
	-DHFS_VERSION=\"$(VERSION)\" $(CORE_INC) $(SAN) $(CFLAGS)
LDFLAGS_ALL := -pthread $(SAN) $(LDFLAGS)

# log and config live in the core; the network module is lent them at load (net.h's
# hfs_net_services, answered by net_services.c in the module). types, clock, grow: no state,
# in both.
COMMON_SRC := core/base/log.c core/base/config.c core/base/types.c core/base/clock.c core/base/grow.c
MODULE_SRC := core/net/net_services.c core/base/types.c core/base/clock.c core/base/grow.c
NET_SRC := $(filter-out core/net/net_services.c,$(wildcard core/net/net_*.c))
# The core's plain-libc table (libc.h): hfrun and the unit tests only; the shim brings its own.
PLAIN_SRC := core/base/libc_plain.c
CORE_SRC := $(filter-out $(COMMON_SRC) $(MODULE_SRC) $(NET_SRC) $(PLAIN_SRC),$(wildcard $(addsuffix /*.c,$(addprefix core/,$(CORE_DIRS)))))
PRELOAD_SRC := $(wildcard preload/*.c)
# The supervisor (static and Go programs under hfrun): linked into hfrun only, with libseccomp.
SUPER_SRC := $(wildcard core/super/*.c)
UNIT_SRC := $(wildcard tests/unit/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
COMMON_OBJ := $(call obj,$(COMMON_SRC))
NET_OBJ := $(call obj,$(NET_SRC))
CORE_OBJ := $(call obj,$(CORE_SRC))
PLAIN_OBJ := $(call obj,$(PLAIN_SRC))
PRELOAD_OBJ := $(call obj,$(PRELOAD_SRC))
SUPER_OBJ := $(call obj,$(SUPER_SRC))
UNIT_OBJ := $(call obj,$(UNIT_SRC))

LIBS_CORE := -ldl
LIBS_NET := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl) -lcrypto
LIBS_SUPER := $(shell pkg-config --libs libseccomp 2>/dev/null || echo -lseccomp)
LIBS_CHECK := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck -lsubunit -lm -lrt)

.PHONY: all test unit seamcheck hubtest integration jstest asan demo install clean format format-check deps bench
all: $(BUILD)/libhfshim.so $(BUILD)/libhfshim-net.so $(BUILD)/hfrun

$(BUILD)/obj/%.o: %.c $(wildcard core/*/*.h preload/*.h tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/libhfshim.so: $(PRELOAD_OBJ) $(CORE_OBJ) $(COMMON_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS_ALL) $(LIBS_CORE)

$(BUILD)/libhfshim-net.so: $(NET_OBJ) $(call obj,$(MODULE_SRC))
	$(CC) -shared -Wl,-z,defs -o $@ $^ $(LDFLAGS_ALL) $(LIBS_NET)

$(BUILD)/hfrun: $(call obj,core/hfrun/hfrun.c) $(SUPER_OBJ) $(CORE_OBJ) $(NET_OBJ) $(COMMON_OBJ) $(PLAIN_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_CORE) $(LIBS_NET) $(LIBS_SUPER)

$(BUILD)/test_unit: $(UNIT_OBJ) $(CORE_OBJ) $(NET_OBJ) $(COMMON_OBJ) $(PLAIN_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS_ALL) $(LIBS_CORE) $(LIBS_NET) $(LIBS_CHECK)

unit: $(BUILD)/test_unit
	$(BUILD)/test_unit

# The core calls libc only through its table (core/base/libc.h), never a name the shim wraps.
seamcheck: $(BUILD)/libhfshim.so $(BUILD)/libhfshim-net.so
	@sh tests/check_seam.sh $(BUILD) $(CORE_OBJ) $(COMMON_OBJ) $(NET_OBJ) $(call obj,$(MODULE_SRC))

integration: all
	HFS_BUILD=$(BUILD) $(PYTHON) tests/integration/run.py

jstest:
	$(PYTHON) tests/js/run.py

hubtest:
	$(PYTHON) tests/hub/test_hub.py

test: all seamcheck unit hubtest integration jstest

# ASan + UBSan build of everything, and the unit and integration tests run against it. Programs
# under the shim get the ASan runtime preloaded first, as ASan requires.
SAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined -DHFS_ASSERTS
asan:
	$(MAKE) BUILD=build-asan OPT=-O1 SAN="$(SAN_FLAGS)" all build-asan/test_unit
	build-asan/test_unit
	HFS_BUILD=build-asan HFS_PRELOAD_EXTRA=$$($(CC) -print-file-name=libasan.so) \
	ASAN_OPTIONS=detect_leaks=0 UBSAN_OPTIONS=print_stacktrace=1 \
		$(PYTHON) tests/integration/run.py

demo: deps all
	sh tests/demo.sh $(BUILD)

# Installs missing Debian packages when root; otherwise prints the apt-get line to run.
deps:
	@sh tests/deps.sh $(DEBIAN_PKGS)

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/hfshim
	install -m 0755 $(BUILD)/libhfshim.so $(BUILD)/libhfshim-net.so $(DESTDIR)$(PREFIX)/lib/hfshim/
	install -m 0755 $(BUILD)/hfrun $(DESTDIR)$(PREFIX)/bin/hfrun

# Benchmarks (not tests: no timing is asserted anywhere). Writes bench/RESULTS.md.
bench: all
	HFS_BENCH_BUILD=$(BUILD) $(PYTHON) bench/run.py

format:
	clang-format -i core/*/*.[ch] preload/*.[ch] tests/unit/*.[ch]

format-check:
	clang-format --dry-run -Werror core/*/*.[ch] preload/*.[ch] tests/unit/*.[ch]

clean:
	rm -rf build build-asan
