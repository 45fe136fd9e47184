# Anemos — top-level build. Every program lands in build/ (or build/asan/ for the
# sanitizer build that `make test` also runs).
#
#   make            build the programs (make deps first installs what building needs)
#   make run        build and start the appliance on 127.0.0.1:8080 with data in ./var
#   make test       every suite, normal and under ASan+UBSan; ends with "N passed, N failed"
#   make check      unit and loopback integration suites of the normal build (T=NAME: one)
#   make bench      benchmarks against nginx (not part of make test)
#   make deb        the Debian package build/anemos_VERSION_amd64.deb (debhelper), checked by lintian

BUILD    ?= build
CC       ?= cc
PKGS      = libmicrohttpd sqlite3 jansson libcrypto libcurl libarchive
CPPFLAGS += -D_GNU_SOURCE -Ilib
CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
            -Wformat=2 -Wno-format-nonliteral -fno-strict-aliasing -pthread $(EXTRA_CFLAGS)
LDFLAGS  += -pthread $(EXTRA_LDFLAGS)

LIB_SRC    = $(wildcard lib/*.c)
SERVER_SRC = $(wildcard server/*.c)
CLI_SRC    = $(wildcard cli/*.c)
INV_SRC    = $(wildcard inventory/*.c)
AGENT_SRC  = $(wildcard initramfs/agent/*.c)
MKIMG_SRC  = $(wildcard images/*.c)
UNIT_SRC   = $(wildcard tests/unit/test_*.c)

LIB_OBJ    = $(LIB_SRC:%.c=$(BUILD)/obj/%.o)
# lib/ as an archive: a program links only the parts it uses (anemos-mkimg and the inventory
# need no libcurl, which lib/api_client.c does).
LIB_A      = $(BUILD)/libanemos.a
# A link's inputs with the archive last, whatever order its rules named them in.
LINK_IN    = $(filter-out $(LIB_A),$^) $(LIB_A)
SERVER_OBJ = $(SERVER_SRC:%.c=$(BUILD)/obj/%.o)
CLI_OBJ    = $(CLI_SRC:%.c=$(BUILD)/obj/%.o)
INV_OBJ    = $(INV_SRC:%.c=$(BUILD)/obj/%.o)
# The inventory library: inventory/ without its main(); anemos-agent links it too.
INV_LIB_OBJ = $(filter-out $(BUILD)/obj/inventory/main.o,$(INV_OBJ))
AGENT_OBJ  = $(AGENT_SRC:%.c=$(BUILD)/obj/%.o)
MKIMG_OBJ  = $(MKIMG_SRC:%.c=$(BUILD)/obj/%.o)
# The unit tests link the server's objects except its main().
SERVER_LIB_OBJ = $(filter-out $(BUILD)/obj/server/main.o,$(SERVER_OBJ))
UNIT_BIN   = $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)
# Inventory tests link the inventory library, agent tests the agent's pure parts; every
# other unit test links the server.
INV_UNIT_BIN    = $(filter $(BUILD)/tests/test_inventory%,$(UNIT_BIN))
AGENT_UNIT_BIN  = $(filter $(BUILD)/tests/test_agent_%,$(UNIT_BIN))
SERVER_UNIT_BIN = $(filter-out $(INV_UNIT_BIN) $(AGENT_UNIT_BIN),$(UNIT_BIN))

PROGRAMS = $(BUILD)/anemosd $(BUILD)/anemosctl $(BUILD)/anemos-inventory $(BUILD)/anemos-agent \
           $(BUILD)/anemos-mkimg $(BUILD)/anemos-storm $(if $(findstring sanitize,$(EXTRA_LDFLAGS)),,$(BUILD)/anemos-inventory-static)

.PHONY: all deps test-deps deb run demo demo-stop test test-asan-build test-artifacts test-slow check unit bench fuzz fuzz-bins fuzz-build fuzz-smoke clean initramfs images
all: $(PROGRAMS)

# Installs missing Debian packages (and says which). Compiling never does: `make deps` does,
# and make run, check, test, test-slow and bench call it first.
deps:
	@deploy/install-deps.sh build
test-deps:
	@deploy/install-deps.sh test

$(LIB_A): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) $$(pkg-config --cflags $(PKGS)) -MMD -MP -c $< -o $@

# libfreeipmi is not linked: server/bmc.c loads it at its first IPMI call, by the soname of
# the library it was compiled against.
FREEIPMI_SONAME = $(shell readelf -d "$$(pkg-config --variable=libdir libfreeipmi)/libfreeipmi.so" 2>/dev/null | \
		    sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
$(BUILD)/obj/server/bmc.o: CPPFLAGS += $(if $(FREEIPMI_SONAME),-DFREEIPMI_SONAME='"$(FREEIPMI_SONAME)"')
$(BUILD)/anemosd: $(SERVER_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(LINK_IN) $$(pkg-config --libs libmicrohttpd sqlite3 jansson libcrypto libarchive libcurl)

$(BUILD)/anemosctl: $(CLI_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(LINK_IN) $$(pkg-config --libs jansson libcurl libcrypto libxcrypt)

# cli/recipe-bundle.sh, compiled into anemosctl as the C string recipe_bundle_sh.
$(BUILD)/gen/recipe-bundle.sh.h: cli/recipe-bundle.sh
	@mkdir -p $(dir $@)
	{ echo 'static const char recipe_bundle_sh[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; echo ';'; } >$@
$(BUILD)/obj/cli/cmd_image.o: $(BUILD)/gen/recipe-bundle.sh.h
# target-scripts/kexec.sh, compiled into anemosctl as kexec_sh (deploy runs it with no
# anemosd) and into anemosd (GET /kexec.sh, which reinstall and rescue run).
$(BUILD)/gen/kexec.sh.h: target-scripts/kexec.sh
	@mkdir -p $(dir $@)
	{ echo 'static const char kexec_sh[] ='; \
	  sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t"/' -e 's/$$/\\n"/' $<; echo ';'; } >$@
$(BUILD)/obj/cli/cmd_deploy.o $(BUILD)/obj/server/http_files.o: $(BUILD)/gen/kexec.sh.h
$(CLI_OBJ) $(BUILD)/obj/server/http_files.o: CPPFLAGS += -I$(BUILD)/gen

$(AGENT_OBJ): CPPFLAGS += -Iinventory
$(MKIMG_OBJ): CPPFLAGS += -DANEMOS_IMAGES_DIR=\"$(CURDIR)/images\"

$(BUILD)/anemos-mkimg: $(MKIMG_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(LINK_IN) $$(pkg-config --libs libarchive jansson libcrypto)

# The boot storm load generator (bench/storm.c; make bench and the storm suite).
$(BUILD)/anemos-storm: $(BUILD)/obj/bench/storm.o
	$(CC) $(LDFLAGS) -o $@ $^

$(BUILD)/anemos-inventory: $(INV_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(LINK_IN) $$(pkg-config --libs jansson libcrypto)

# A static anemos-inventory, which `anemosctl adopt` sends to hosts that have none (any
# distribution: no shared libraries needed). Not in the sanitizer build (no static ASan).
$(BUILD)/anemos-inventory-static: $(INV_OBJ) $(BUILD)/obj/lib/log.o $(BUILD)/obj/lib/errors.o $(BUILD)/obj/lib/placeholder.o
	$(CC) $(LDFLAGS) -static -o $@ $^ $$(pkg-config --static --libs jansson)

$(BUILD)/anemos-agent: $(AGENT_OBJ) $(INV_LIB_OBJ) $(LIB_A)
	$(CC) $(LDFLAGS) -o $@ $(LINK_IN) $$(pkg-config --libs jansson libcurl libcrypto libarchive)

$(INV_UNIT_BIN): $(BUILD)/tests/%: tests/unit/%.c $(INV_LIB_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iinventory -Itests/unit $(CFLAGS) $$(pkg-config --cflags jansson cmocka) \
		-DFIXTURES=\"$(CURDIR)/tests/fixtures\" -o $@ $(LINK_IN) $(LDFLAGS) $$(pkg-config --libs jansson libcrypto cmocka)

$(AGENT_UNIT_BIN): $(BUILD)/tests/%: tests/unit/%.c $(BUILD)/obj/initramfs/agent/templates.o \
		$(BUILD)/obj/initramfs/agent/target.o $(BUILD)/obj/initramfs/agent/debian_index.o $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iinitramfs/agent -Iinventory $(CFLAGS) $$(pkg-config --cflags jansson libcurl cmocka) \
		-o $@ $(LINK_IN) $(LDFLAGS) $$(pkg-config --libs jansson libcrypto cmocka)
# The install's configure step, with anemosd's replies stubbed, copying the repository's phone-home.
$(BUILD)/tests/test_agent_configure: $(BUILD)/obj/initramfs/agent/configure.o $(BUILD)/obj/initramfs/agent/network.o
$(BUILD)/tests/test_agent_configure: private CPPFLAGS += -DANEMOS_SRC=\"$(CURDIR)\"
# The download helpers (a probe of a port nothing listens on: loopback only).
$(BUILD)/tests/test_agent_stream: $(BUILD)/obj/initramfs/agent/stream.o
$(BUILD)/tests/test_agent_stream: private LDFLAGS += $$(pkg-config --libs libcurl libarchive)

$(SERVER_UNIT_BIN): $(BUILD)/tests/%: tests/unit/%.c tests/unit/support.c $(SERVER_LIB_OBJ) $(LIB_A)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iserver -Itests/unit $(CFLAGS) $$(pkg-config --cflags $(PKGS) cmocka) -o $@ $(LINK_IN) \
		$(LDFLAGS) $$(pkg-config --libs libmicrohttpd sqlite3 jansson libcrypto libarchive libcurl cmocka)

unit: $(UNIT_BIN)

# The Anemos initramfs and the Debian kernel: build/boot/vmlinuz, build/boot/initramfs.img.
initramfs: all
	@initramfs/build.sh $(BUILD)

# The shipped image recipes into build/images/ (IMAGES=tiny for the quick one alone), each
# with NAME.files, the list of its files (the recipe suite compares a target's build with it).
IMAGES ?= tiny debian
images: all
	@for r in $(IMAGES); do \
		$(BUILD)/anemos-mkimg --out $(BUILD)/images --cache $(BUILD)/images-cache \
			--manifest $(BUILD)/images/$$r.files images/$$r/recipe || exit 1; \
	done

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

# The appliance on its embedded default, with the Anemos initramfs and the tiny demo image.
run: deps all
	@$(MAKE) --no-print-directory initramfs
	@$(MAKE) --no-print-directory images IMAGES=tiny
	@deploy/run-local.sh $(BUILD)

# The Debian package, built by dpkg-buildpackage in a copy of the tree (build/deb/anemos) with
# the Anemos kernel and initramfs of this tree, then checked by lintian; lands in $(BUILD)/.
deb:
	@deploy/install-deps.sh deb
	@$(MAKE) --no-print-directory initramfs
	@deploy/deb.sh $(BUILD)

# With `make run` running: a QEMU machine installs tiny from it (again: reinstalls it).
demo:
	@deploy/demo.sh
demo-stop:
	@deploy/demo.sh stop

# One normal build and one ASan+UBSan build, each through its suites (a QEMU suite runs
# against one of them, `# run-in:`); one summary line.
# The sanitizer build compiles while the initramfs and the images are made (mostly unpacking
# Debian packages) from the normal build.
test: test-deps
	@$(MAKE) --no-print-directory -j$$(nproc) all unit
	@$(MAKE) --no-print-directory -j$$(($$(nproc) + 1)) test-asan-build test-artifacts
	@tests/run-all.sh
test-asan-build:
	@$(MAKE) --no-print-directory BUILD=build/asan \
		EXTRA_CFLAGS="-O1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" all unit
test-artifacts:
	@$(MAKE) --no-print-directory initramfs
	@$(MAKE) --no-print-directory images IMAGES="tiny cloud"

# The fast loop: the unit tests and the loopback integration suites of the normal build (no
# QEMU); T=NAME runs the suites whose label ends in NAME (make check T=recipe). Three at a time:
# these suites wait on timers and sockets more than they compute (ANEMOS_JOBS=N overrides).
check: deps all unit
	@ANEMOS_JOBS=$${ANEMOS_JOBS:-3} ANEMOS_SUITES='^build (unit|integration) $(if $(T),.*$(T)$$,)' tests/run-all.sh

# libFuzzer harnesses of the parsers of outside input (tests/fuzz/), built with clang and
# ASan+UBSan into build/fuzz. `make fuzz` runs each for FUZZ_SECONDS over its checked-in seeds
# (tests/fuzz/corpus/NAME, read only) and what earlier runs found (build/fuzz/corpus/NAME);
# `make fuzz-smoke` (a suite of make test) runs each over its seeds plus FUZZ_SMOKE_SECONDS of
# new inputs. A finding stops either, its reproducer kept in build/fuzz/artifacts/.
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 15
FUZZ_SRC  = $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BIN  = $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)
FUZZ_LINK = $(SERVER_LIB_OBJ) $(INV_LIB_OBJ) $(BUILD)/obj/initramfs/agent/debian_index.o \
	$(BUILD)/obj/initramfs/agent/network.o $(LIB_A)
$(FUZZ_BIN): $(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/config.c tests/fuzz/support.c $(FUZZ_LINK)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -Iserver -Iinventory -Iinitramfs/agent -Itests/fuzz $(CFLAGS) -fsanitize=fuzzer \
		$$(pkg-config --cflags $(PKGS)) -o $@ $(LINK_IN) \
		$(LDFLAGS) $$(pkg-config --libs libmicrohttpd sqlite3 jansson libcrypto libarchive libcurl)
fuzz-bins: $(FUZZ_BIN)
# Installs clang if missing, then builds every harness (into build/fuzz/fuzz/).
fuzz-build:
	@deploy/install-deps.sh fuzz
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang \
		EXTRA_CFLAGS="-O1 -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all" \
		EXTRA_LDFLAGS="-fsanitize=address,undefined" fuzz-bins
fuzz: fuzz-build
	@mkdir -p build/fuzz/artifacts
	@for f in build/fuzz/fuzz/fuzz_*; do \
		n=$${f##*/}; mkdir -p build/fuzz/corpus/$$n; \
		echo "fuzz: $$n for $(FUZZ_SECONDS) s"; \
		if $$f -max_total_time=$(FUZZ_SECONDS) -print_final_stats=1 -artifact_prefix=build/fuzz/artifacts/$$n- \
			build/fuzz/corpus/$$n tests/fuzz/corpus/$$n >build/fuzz/$$n.log 2>&1; then \
			grep -E 'stat::number_of_executed_units' build/fuzz/$$n.log; \
		else tail -n 30 build/fuzz/$$n.log; exit 1; fi; \
	done
fuzz-smoke:
	@FUZZ_SMOKE_SECONDS=$(FUZZ_SMOKE_SECONDS) bash tests/fuzz/smoke.test.sh

# The slow suites: the debian image (debootstrap, a few minutes) installed and booted in QEMU,
# the debian recipe built on two targets through the package cache (about an hour), a
# deploy over SSH of an image by its URL, and the memory floor measured (a deploy into ever
# smaller machines).
test-slow: deps all
	@deploy/install-deps.sh slow
	@$(MAKE) --no-print-directory initramfs
	@$(MAKE) --no-print-directory images IMAGES="tiny debian cloud"
	@for t in tests/slow/debian.test.sh tests/slow/recipe-debian.test.sh \
		tests/slow/deploy-image.test.sh tests/slow/deploy-memory.test.sh; do \
		echo "# $$t"; ANEMOS_BUILD=$(BUILD) bash $$t; \
	done | tee build/test-slow.log; \
		grep -q '^not ok' build/test-slow.log && exit 1; \
		echo "$$(grep -c '^ok' build/test-slow.log) passed, $$(grep -c '^not ok' build/test-slow.log) failed"

bench: deps all
	@deploy/install-deps.sh bench
	@bench/run.sh $(BUILD)
	@$(MAKE) --no-print-directory images IMAGES=tiny
	@bench/install.sh $(BUILD)
	@$(MAKE) --no-print-directory initramfs
	@bench/recipe.sh $(BUILD)

clean:
	rm -rf build
