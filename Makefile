# previrt: build, demo, tests, benchmarks.
# SPDX-License-Identifier: GPL-3.0-or-later

SWIFT   ?= swift
CC      ?= gcc
BUILD   := .build/debug
PREVIRT := $(BUILD)/previrt
OUT     := out

.PHONY: paging-guest
.PHONY: rings-guest
.PHONY: tls-bench
.PHONY: guest-kernel run-guest-kernel-qemu initramfs linux-bench
.PHONY: all deps build macros demo test bench fuzz fuzz-runtime fuzz-inspector fuzz-linux-user guest guest64 run-guest run-guest64 \
	xen-bench linux-user kernel-check clean install

all: build

# Debian packages (binutils-dev, binutils-source, gcc-multilib, ...): installed if missing.
deps:
	@.ci/install-deps

build: deps
	$(SWIFT) build --product previrt

# Regenerate every file generated from the catalog (committed; a test fails when one is stale).
macros: build
	$(PREVIRT) macros --arch i386 -o Macros/previrt-i386.s
	$(PREVIRT) macros --arch x86_64 -o Macros/previrt-x86_64.s
	$(PREVIRT) macros --arch i386 --flavor llvm -o Macros/previrt-i386-llvm.s
	$(PREVIRT) macros --arch x86_64 --flavor llvm -o Macros/previrt-x86_64-llvm.s
	$(PREVIRT) note-header -o Sources/PrevirtRuntime/include/previrt_note.h
	$(PREVIRT) note-header --decode-table -o Sources/PrevirtRuntime/include/previrt_decode_table.h
	$(PREVIRT) catalog --markdown > Docs/catalog.md.tmp && mv Docs/catalog.md.tmp Docs/catalog.md

# The main job on a built-in example: generate both macro sets, build C inline asm and a .S file
# with them for i386 and x86_64, then list and verify the sites each object records. entry.S keeps one
# cli native on purpose (previrt_off), which --coverage reports: the exit status is 1 for that file.
demo: build
	@mkdir -p $(OUT)/demo
	$(PREVIRT) macros --arch x86_64 -o $(OUT)/demo/previrt-x86_64.s
	$(PREVIRT) macros --arch i386 -o $(OUT)/demo/previrt-i386.s
	$(CC) -O2 -ffreestanding -fno-pic -c -Wa,$(OUT)/demo/previrt-x86_64.s Examples/annotate/io.c -o $(OUT)/demo/io-x86_64.o
	$(CC) -m32 -O2 -ffreestanding -fno-pic -c -Wa,$(OUT)/demo/previrt-i386.s Examples/annotate/io.c -o $(OUT)/demo/io-i386.o
	$(CC) -c -Wa,$(OUT)/demo/previrt-x86_64.s Examples/annotate/entry.S -o $(OUT)/demo/entry-x86_64.o
	$(CC) -m32 -c -Wa,$(OUT)/demo/previrt-i386.s Examples/annotate/entry.S -o $(OUT)/demo/entry-i386.o
	$(PREVIRT) inspect --verify --stats $(OUT)/demo/io-x86_64.o $(OUT)/demo/io-i386.o $(OUT)/demo/entry-x86_64.o $(OUT)/demo/entry-i386.o
	@$(PREVIRT) inspect --verify --coverage $(OUT)/demo/io-x86_64.o $(OUT)/demo/entry-x86_64.o; \
	  echo "previrt inspect --coverage: exit status $$? (1 = findings: the cli kept native by previrt_off in entry.S)"

test: deps
	$(SWIFT) build
	$(SWIFT) test

# Ratios measured side by side in one run (see Docs/benchmarks.md).
bench: build
	$(SWIFT) build -c release --product previrt
	$(SWIFT) build -c release --product previrt-as
	python3 Benchmarks/assemble.py
	python3 Benchmarks/inspect.py
	$(MAKE) -s $(OUT)/bench/vmm-bench
	$(OUT)/bench/vmm-bench
	$(MAKE) -s xen-bench
	$(MAKE) -s linux-bench
	$(MAKE) -s tls-bench

# libFuzzer over the Swift note parser and the C runtime's note walker, seeded with the note sections
# of the demo objects.
FUZZ_RUNS ?= 1000000
fuzz: demo
	Fuzz/build.sh .build-fuzz
	@mkdir -p .build-fuzz/corpus
	@for o in $(OUT)/demo/*.o; do objcopy -O binary --only-section=.note.previrt $$o .build-fuzz/corpus/seed-$$(basename $$o); done
	.build-fuzz/note-parser-fuzzer -runs=$(FUZZ_RUNS) -max_len=4096 .build-fuzz/corpus
	.build-fuzz/note-walk-fuzzer -runs=$(FUZZ_RUNS) -max_len=4096 .build-fuzz/corpus

# libFuzzer + ASan/UBSan over the in-place VMM's core: the decoder, the patcher (validate-then-patch)
# and the note walker, seeded with the text and notes of the demo objects (each linked with its notes
# right after its text) and of the demo guest. A crashing input (.build-fuzz/runtime/crash-*) is kept
# under Tests/FuzzRegressions/<harness>/, where RuntimeFuzzRegressionTests replays it.
FUZZ_RUNTIME := .build-fuzz/runtime
fuzz-runtime: demo guest
	Fuzz/build-runtime.sh $(FUZZ_RUNTIME)
	@mkdir -p $(FUZZ_RUNTIME)/linked $(FUZZ_RUNTIME)/corpus/notes
	@for o in $(OUT)/demo/*.o; do b=$$(basename $$o .o); case $$b in *i386) m="-m elf_i386";; *) m="";; esac; \
	  ld $$m -Ttext=0x100000 --section-start=.note.previrt=0x100100 --section-start=.data=0x9000 -e 0 \
	    --unresolved-symbols=ignore-all -o $(FUZZ_RUNTIME)/linked/$$b.elf $$o; \
	  objcopy -O binary --only-section=.note.previrt $$o $(FUZZ_RUNTIME)/corpus/notes/seed-$$b; done
	python3 Fuzz/runtime_seeds.py $(FUZZ_RUNTIME)/corpus/decode $(FUZZ_RUNTIME)/corpus/patch \
	  $(FUZZ_RUNTIME)/linked/*.elf $(OUT)/guest/guest.elf
	cd $(FUZZ_RUNTIME) && ./decode-fuzzer -runs=$(FUZZ_RUNS) -max_len=64 corpus/decode
	cd $(FUZZ_RUNTIME) && ./patch-fuzzer -runs=$(FUZZ_RUNS) -max_len=20000 corpus/patch
	cd $(FUZZ_RUNTIME) && ./note-walk-fuzzer-ubsan -runs=$(FUZZ_RUNS) -max_len=4096 corpus/notes

# libFuzzer over `previrt inspect`'s whole path (libbfd, the notes, verify, coverage, stats) on whole
# files, seeded with the demo objects, an executable and a shared object linked from them, an archive of
# them and the demo guest. FUZZ_TIME bounds the run in seconds (whichever of it and FUZZ_RUNS comes first).
FUZZ_TIME ?= 600
fuzz-inspector: demo guest
	Fuzz/build-inspector.sh .build-fuzz
	@mkdir -p .build-fuzz/inspector-corpus
	cp $(OUT)/demo/*.o $(OUT)/guest/guest.elf .build-fuzz/inspector-corpus/
	ld -e 0 -o .build-fuzz/inspector-corpus/io-x86_64.elf $(OUT)/demo/io-x86_64.o
	ld -m elf_i386 -e 0 -o .build-fuzz/inspector-corpus/io-i386.elf $(OUT)/demo/io-i386.o
	ld -shared -o .build-fuzz/inspector-corpus/io-x86_64.so $(OUT)/demo/io-x86_64.o
	rm -f .build-fuzz/inspector-corpus/demo.a && ar rcs .build-fuzz/inspector-corpus/demo.a $(OUT)/demo/*-x86_64.o
	.build-fuzz/inspector-fuzzer -runs=$(FUZZ_RUNS) -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	  -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=1024 -artifact_prefix=.build-fuzz/ .build-fuzz/inspector-corpus

# libFuzzer (ASan + UBSan) over the linux-user VMM's ELF checks, seeded with the demo guest, a copy of it
# without section headers, and the fuzzer's kept regression inputs (Tests/Regressions/linux-user-elf).
fuzz-linux-user: guest
	Fuzz/build-linux-user.sh .build-fuzz
	@mkdir -p .build-fuzz/linux-user-corpus .build-fuzz/linux-user-artifacts
	@cp $(OUT)/guest/guest.elf .build-fuzz/linux-user-corpus/seed-demo-guest
	@python3 -c 'import struct,sys; b=bytearray(open(sys.argv[1],"rb").read()); struct.pack_into("<I",b,32,0); struct.pack_into("<HH",b,48,0,0); open(sys.argv[2],"wb").write(b)' \
		$(OUT)/guest/guest.elf .build-fuzz/linux-user-corpus/seed-demo-no-sections
	@cp Tests/Regressions/linux-user-elf/* .build-fuzz/linux-user-corpus/
	cd .build-fuzz && ./linux-user-elf-fuzzer -runs=$(FUZZ_RUNS) -max_len=32768 -artifact_prefix=linux-user-artifacts/ \
		-print_final_stats=1 linux-user-corpus

clean:
	rm -rf $(OUT) .build .build-fuzz

# Install like a tool: the programs, the linux-user VMM `previrt run` starts, the macro sets and the C
# headers for guest builds, and shell completions. PREFIX and DESTDIR as usual; CONFIG=debug installs
# the debug build (the tests do, to spare a release build).
PREFIX ?= /usr/local
CONFIG ?= release
INSTALL ?= install
install: deps linux-user
	$(SWIFT) build -c $(CONFIG) --product previrt
	$(SWIFT) build -c $(CONFIG) --product previrt-as
	$(INSTALL) -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/libexec/previrt $(DESTDIR)$(PREFIX)/share/previrt/macros \
		$(DESTDIR)$(PREFIX)/include/previrt $(DESTDIR)$(PREFIX)/share/previrt/runtime $(DESTDIR)$(PREFIX)/share/bash-completion/completions \
		$(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	$(INSTALL) -m 755 .build/$(CONFIG)/previrt .build/$(CONFIG)/previrt-as $(DESTDIR)$(PREFIX)/bin/
	$(INSTALL) -m 755 $(OUT)/host/previrt-linux-user $(DESTDIR)$(PREFIX)/libexec/previrt/
	$(INSTALL) -m 644 Macros/*.s $(DESTDIR)$(PREFIX)/share/previrt/macros/
	$(INSTALL) -m 644 Sources/PrevirtRuntime/include/*.h $(DESTDIR)$(PREFIX)/include/previrt/
	$(INSTALL) -m 644 Sources/PrevirtRuntime/*.c Sources/PrevirtRuntime/*.h $(DESTDIR)$(PREFIX)/share/previrt/runtime/
	.build/$(CONFIG)/previrt --generate-completion-script bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/previrt
	.build/$(CONFIG)/previrt --generate-completion-script zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_previrt
	.build/$(CONFIG)/previrt --generate-completion-script fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/previrt.fish

# The in-place VMM's freestanding core, linked into the guest, the linux-user VMM and its benchmark.
RUNTIME_CORE := Sources/PrevirtRuntime/note_walk.c Sources/PrevirtRuntime/decode.c Sources/PrevirtRuntime/patch.c
RUNTIME_HEADERS := Sources/PrevirtRuntime/include/previrt_note.h Sources/PrevirtRuntime/include/previrt_runtime.h \
	Sources/PrevirtRuntime/include/previrt_decode_table.h

# The demo guest: one multiboot ELF for bare hardware (QEMU) and for `previrt run`.
GUEST_CFLAGS := -m32 -O2 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables \
	-nostdlib -Wall -Wextra -ISources/PrevirtRuntime/include -IGuests/demo -IGuests/common
GUEST_SOURCES := Guests/common/multiboot.S Guests/demo/boot.S Guests/demo/kernel.c Guests/demo/checks.c Guests/common/console.c \
	$(RUNTIME_CORE) Sources/PrevirtRuntime/backend_native.c Sources/PrevirtRuntime/backend_trace.c

$(OUT)/guest/guest.elf: $(GUEST_SOURCES) Guests/demo/guest.ld Guests/demo/guest.h Guests/common/console.h Macros/previrt-i386.s Makefile \
		$(RUNTIME_HEADERS)
	@mkdir -p $(OUT)/guest
	$(CC) $(GUEST_CFLAGS) -Wa,Macros/previrt-i386.s -static -Wl,-T,Guests/demo/guest.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-o $@ $(GUEST_SOURCES)

guest: $(OUT)/guest/guest.elf

# The paging guest: checks the MMU (4 KiB and 4 MiB pages, accessed/dirty bits, #PF, invlpg, CR3) on
# QEMU and under `previrt run` (Tests/PrevirtTests/LinuxOnLinuxTests.swift).
PAGING_SOURCES := Guests/common/multiboot.S Guests/paging/boot.S Guests/paging/paging.c Guests/common/console.c
$(OUT)/guest/paging.elf: $(PAGING_SOURCES) Guests/demo/guest.ld Guests/common/console.h Macros/previrt-i386.s Makefile
	@mkdir -p $(OUT)/guest
	$(CC) $(GUEST_CFLAGS) -Wa,Macros/previrt-i386.s -static -Wl,-T,Guests/demo/guest.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-o $@ $(PAGING_SOURCES)

paging-guest: $(OUT)/guest/paging.elf

# The rings guest: a page below 3 GiB that the guest kernel maps without the user bit stays out of user
# mode's reach, on QEMU and under `previrt run` (Tests/PrevirtTests/LinuxOnLinuxSupervisorPageTests.swift).
RINGS_SOURCES := Guests/common/multiboot.S Guests/rings/boot.S Guests/rings/rings.c Guests/common/console.c
$(OUT)/guest/rings.elf: $(RINGS_SOURCES) Guests/demo/guest.ld Guests/common/console.h Macros/previrt-i386.s Makefile
	@mkdir -p $(OUT)/guest
	$(CC) $(GUEST_CFLAGS) -Wa,Macros/previrt-i386.s -static -Wl,-T,Guests/demo/guest.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-o $@ $(RINGS_SOURCES)

rings-guest: $(OUT)/guest/rings.elf

QEMU_GUEST = qemu-system-i386 -display none -no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel $(OUT)/guest/guest.elf

# The x86_64 demo guest: one ELF with a PVH entry (qemu-system-x86_64 -kernel) and Xen's PV notes.
# GUEST64_EXTRA adds sources (the tests add a site the xen backend refuses).
GUEST64_CFLAGS := -m64 -O2 -ffreestanding -fno-pic -fno-pie -fno-stack-protector -fno-asynchronous-unwind-tables \
	-mno-red-zone -mgeneral-regs-only -nostdlib -Wall -Wextra -ISources/PrevirtRuntime/include -IGuests/demo64 -IGuests/common
GUEST64_EXTRA ?=
XEN_BACKEND := Sources/PrevirtRuntime/backend_xen.c Sources/PrevirtRuntime/xen_emulate.c Sources/PrevirtRuntime/xen_events.c \
	Sources/PrevirtRuntime/xen_devices.c Sources/PrevirtRuntime/xen_segments.c
GUEST64_SOURCES := $(GUEST64_EXTRA) Guests/demo64/boot.S Guests/demo64/notes.S Guests/demo64/kernel.c Guests/demo64/checks.c \
	Guests/demo64/timer.c \
	Guests/common/console.c Guests/demo64/xen.c $(RUNTIME_CORE) Sources/PrevirtRuntime/backend_native.c \
	Sources/PrevirtRuntime/backend_trace.c $(XEN_BACKEND)

$(OUT)/guest64/guest64.elf: $(GUEST64_SOURCES) Guests/demo64/guest64.ld Guests/demo64/guest.h Guests/common/console.h Macros/previrt-x86_64.s \
		Makefile $(RUNTIME_HEADERS) Sources/PrevirtRuntime/xen_pv.h
	@mkdir -p $(OUT)/guest64
	$(CC) $(GUEST64_CFLAGS) -Wa,Macros/previrt-x86_64.s -static -no-pie -Wl,-T,Guests/demo64/guest64.ld -Wl,--build-id=none \
		-Wl,--no-warn-rwx-segments -Wl,-z,max-page-size=4096 -o $@ $(GUEST64_SOURCES)

guest64: $(OUT)/guest64/guest64.elf

# The same guest with the Xen benchmark (Benchmarks/xen), which it runs after its transcript under Xen.
$(OUT)/bench/guest64-bench.elf: $(GUEST64_SOURCES) Benchmarks/xen/bench.c Benchmarks/xen/loops.S Guests/demo64/guest64.ld \
		Guests/demo64/guest.h Macros/previrt-x86_64.s Makefile $(RUNTIME_HEADERS) Sources/PrevirtRuntime/xen_pv.h
	@mkdir -p $(OUT)/bench
	$(CC) $(GUEST64_CFLAGS) -DPREVIRT_BENCH -Wa,Macros/previrt-x86_64.s -static -no-pie -Wl,-T,Guests/demo64/guest64.ld \
		-Wl,--build-id=none -Wl,--no-warn-rwx-segments -Wl,-z,max-page-size=4096 -o $@ $(GUEST64_SOURCES) \
		Benchmarks/xen/bench.c Benchmarks/xen/loops.S

# Debian's Xen (xen-hypervisor-4.17-amd64), uncompressed for qemu-system-x86_64 -kernel.
XEN_GZ ?= /boot/xen-4.17-amd64.gz
$(OUT)/xen/xen.elf: $(XEN_GZ)
	@mkdir -p $(OUT)/xen
	zcat $(XEN_GZ) > $@.tmp && mv $@.tmp $@

QEMU_GUEST64 = qemu-system-x86_64 -display none -no-reboot -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 \
	-kernel $(OUT)/guest64/guest64.elf
QEMU_XEN = qemu-system-x86_64 -nographic -no-reboot -m 512 -smp 1 -monitor none -serial stdio -kernel $(OUT)/xen/xen.elf \
	-append "com1=115200,8n1 console=com1 dom0_mem=32M,max:32M dom0_max_vcpus=1"

# Under Xen (QEMU TCG), patched sensitive operations against the same left native and trapped by Xen.
xen-bench: $(OUT)/bench/guest64-bench.elf $(OUT)/xen/xen.elf
	@timeout 300 $(QEMU_XEN) -initrd "$(OUT)/bench/guest64-bench.elf" | tr -d '\r' | grep '^bench: '

# Boot the x86_64 guest on QEMU with the native and the trace backend (exit status 33 = pass), then the
# same file as dom0 of Xen, where it patches itself with the xen backend (its transcript says pass).
run-guest64: guest64 $(OUT)/xen/xen.elf
	@$(QEMU_GUEST64) -append previrt=native; echo "== QEMU, previrt=native: exit status $$? (33 = pass)"
	@$(QEMU_GUEST64) -append previrt=trace; echo "== QEMU, previrt=trace: exit status $$? (33 = pass)"
	@$(QEMU_XEN) -initrd "$(OUT)/guest64/guest64.elf" | tr -d '\r' | grep -v '^(XEN)'; echo "== Xen 4.17 dom0, backend xen"

# Boot the guest on QEMU (bare hardware) with the native and the trace backend, then run the same
# file under the linux-user VMM. Each exits with 33, isa-debug-exit's pass status.
run-guest: build guest linux-user
	@$(QEMU_GUEST) -append previrt=native; echo "== QEMU, previrt=native: exit status $$? (33 = pass)"
	@$(QEMU_GUEST) -append previrt=trace; echo "== QEMU, previrt=trace: exit status $$? (33 = pass)"
	@$(PREVIRT) run $(OUT)/guest/guest.elf; echo "== previrt run (linux-user): exit status $$? (33 = pass)"

# The linux-user VMM: a 32-bit static Linux program that runs i386 guests (`previrt run`). It is linked
# at 0xE8000000 (VMM_REGION_BASE in host.h), at the top of the address space: everything below is the guest's.
HOST_CORE := Hosts/linux-user/emulate.c Hosts/linux-user/sites.c Hosts/linux-user/console.c Hosts/linux-user/cpu.c \
	Hosts/linux-user/memory.c Hosts/linux-user/mmu.c Hosts/linux-user/interrupts.c Hosts/linux-user/board.c \
	Hosts/linux-user/usermode.c Hosts/linux-user/entry.S Hosts/linux-user/devices/pic8259.c \
	Hosts/linux-user/devices/pit8253.c Hosts/linux-user/devices/uart8250.c Hosts/linux-user/devices/rtc146818.c \
	Hosts/linux-user/contain.c Hosts/linux-user/traps.c Hosts/linux-user/tls.c Hosts/linux-user/elf_check.c Hosts/linux-user/pool.c $(RUNTIME_CORE)
HOST_HEADERS := Hosts/linux-user/host.h Hosts/linux-user/elf_check.h Hosts/linux-user/devices/pic8259.h \
	Hosts/linux-user/devices/pit8253.h Hosts/linux-user/devices/uart8250.h Hosts/linux-user/devices/rtc146818.h
HOST_SOURCES := Hosts/linux-user/loader.c $(HOST_CORE)
$(OUT)/host/previrt-linux-user: $(HOST_SOURCES) $(HOST_HEADERS) Hosts/linux-user/vmm.ld Makefile $(RUNTIME_HEADERS)
	@mkdir -p $(OUT)/host
	$(CC) -m32 -O2 -static -fno-pie -no-pie -fno-stack-protector -Wl,-Ttext-segment=0xE8000000 -Wl,-T,Hosts/linux-user/vmm.ld -Wall -Wextra \
		-ISources/PrevirtRuntime/include -IHosts/linux-user \
		-o $@ $(HOST_SOURCES)

linux-user: $(OUT)/host/previrt-linux-user

# The host's work per guest pipe round trip under previrt run, with one address space and with the
# pool (Benchmarks/linux/hostwork.sh: perf stat and strace -c; root).
.PHONY: linux-hostwork
linux-hostwork: $(OUT)/host/previrt-linux-user
	Benchmarks/linux/hostwork.sh 1 8

# The linux-user VMM's per-instruction cost and patching speed (run by `make bench`).
VMM_BENCH_SOURCES := Benchmarks/vmm/bench.c $(HOST_CORE)
$(OUT)/bench/vmm-bench: $(VMM_BENCH_SOURCES) Benchmarks/vmm/loops.S $(HOST_HEADERS) Macros/previrt-i386.s Makefile \
		$(RUNTIME_HEADERS)
	@mkdir -p $(OUT)/bench
	$(CC) -m32 -c -Wa,Macros/previrt-i386.s Benchmarks/vmm/loops.S -o $(OUT)/bench/loops.o
	$(CC) -m32 -O2 -static -fno-pie -no-pie -Wl,-T,Hosts/linux-user/vmm.ld -Wall -Wextra -ISources/PrevirtRuntime/include \
		-IHosts/linux-user -o $@ $(VMM_BENCH_SOURCES) $(OUT)/bench/loops.o

# Linux 6.1 (Debian's linux-source-6.1), x86_64 tinyconfig + serial console + initramfs, built without
# and with the macro set and booted on QEMU; not part of `make test` (about 5 minutes on 2 cores).
kernel-check:
	$(SWIFT) build -c release --product previrt
	Kernel/check.sh

# The linux-user VMM's device models (Hosts/linux-user/devices: 8259A pair, 8254 and port 0x61, 16550A)
# and their unit tests (Tests/Devices/devices_test.c), which drive each model with Linux 6.1's own port
# sequences. The test is built as the VMM is (-m32, static) and again for x86_64 with ASan and UBSan;
# both must pass. The models must stay freestanding: their objects may need nothing from outside but
# libgcc's 64-bit division helpers.
.PHONY: device-tests
DEVICE_SOURCES := Hosts/linux-user/devices/pic8259.c Hosts/linux-user/devices/pit8253.c \
	Hosts/linux-user/devices/uart8250.c Hosts/linux-user/devices/rtc146818.c
DEVICE_HEADERS := $(DEVICE_SOURCES:.c=.h)
DEVICE_TEST := Tests/Devices/devices_test.c Tests/Devices/devices_trace.h Tests/Devices/device_scripts.h \
	Tests/Devices/device_script_print.h
$(OUT)/host/devices-test: $(DEVICE_TEST) $(DEVICE_SOURCES) $(DEVICE_HEADERS) Makefile
	@mkdir -p $(OUT)/host/devices
	@for f in $(DEVICE_SOURCES); do \
	  $(CC) -m32 -O2 -ffreestanding -fno-pie -fno-stack-protector -Wall -Wextra -Werror \
	    -c $$f -o $(OUT)/host/devices/$$(basename $$f .c).o || exit 1; done
	@outside=$$(nm -u $(OUT)/host/devices/*.o | grep -v -E '^$$|:$$|__(u?div|u?mod|udivmod)di[34]$$'); \
	  if [ -n "$$outside" ]; then echo "device models use symbols from outside: $$outside" >&2; exit 1; fi
	$(CC) -m32 -O2 -static -fno-pie -no-pie -Wall -Wextra -IHosts/linux-user/devices -ITests/Devices \
		-o $@ Tests/Devices/devices_test.c $(OUT)/host/devices/*.o
$(OUT)/host/devices-test-san: $(DEVICE_TEST) $(DEVICE_SOURCES) $(DEVICE_HEADERS) Makefile
	@mkdir -p $(OUT)/host
	$(CC) -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all -Wall -Wextra \
		-IHosts/linux-user/devices -ITests/Devices -o $@ Tests/Devices/devices_test.c $(DEVICE_SOURCES)
device-tests: $(OUT)/host/devices-test $(OUT)/host/devices-test-san
	$(OUT)/host/devices-test
	$(OUT)/host/devices-test-san

# libFuzzer (ASan + UBSan) over the device models' port interfaces, seeded with the port sequences of
# the unit tests (devices-test --trace), cut into 4000-byte pieces.
.PHONY: fuzz-devices
fuzz-devices: $(OUT)/host/devices-test
	Fuzz/build-devices.sh .build-fuzz
	@mkdir -p .build-fuzz/devices-corpus .build-fuzz/devices-seeds .build-fuzz/devices-artifacts
	@$(OUT)/host/devices-test --trace .build-fuzz/devices-trace.bin >/dev/null
	@split -b 4000 -d -a 3 .build-fuzz/devices-trace.bin .build-fuzz/devices-seeds/linux-
	cd .build-fuzz && ./devices-fuzzer -runs=$(FUZZ_RUNS) -max_len=4096 -timeout=10 \
		-artifact_prefix=devices-artifacts/ -print_final_stats=1 devices-corpus devices-seeds

# A bare multiboot guest that runs Tests/Devices/device_scripts.h against QEMU's own PC devices and
# prints the reads on QEMU's debug console; DeviceModelTests compares them with `devices-test --script`.
.PHONY: device-probe
$(OUT)/host/devices-qemu-probe.elf: Guests/common/multiboot.S Tests/Devices/qemu_probe.S Tests/Devices/qemu_probe.c Tests/Devices/qemu_probe.ld \
		Tests/Devices/device_scripts.h Tests/Devices/device_script_print.h Makefile
	@mkdir -p $(OUT)/host
	$(CC) -m32 -O2 -ffreestanding -fno-pic -fno-stack-protector -fno-asynchronous-unwind-tables -nostdlib -Wall -Wextra \
		-ITests/Devices -static -Wl,-T,Tests/Devices/qemu_probe.ld -Wl,--build-id=none -Wl,--no-warn-rwx-segments \
		-o $@ Guests/common/multiboot.S Tests/Devices/qemu_probe.S Tests/Devices/qemu_probe.c
device-probe: $(OUT)/host/devices-qemu-probe.elf $(OUT)/host/devices-test

# The QEMU comparison run PROBE_RUNS times (a time-dependent read shows up as a mismatch in a few runs).
.PHONY: device-probe-repeat
PROBE_RUNS ?= 50
device-probe-repeat: device-probe
	OUT=$(OUT) Tests/Devices/probe_repeat.sh $(PROBE_RUNS)

# The x86_64 demo guest booted GUEST64_RUNS times per backend on QEMU as Guest64Tests boots it, counting
# the runs whose transcript differs from the test's; HOGS=n runs them under n busy loops on QEMU's CPU,
# STOP_MS=n with QEMU stopped for n ms after each millisecond or so it runs.
.PHONY: guest64-repeat
GUEST64_RUNS ?= 50
HOGS ?= 0
STOP_MS ?= 0
guest64-repeat: guest64
	OUT=$(OUT) HOGS=$(HOGS) STOP_MS=$(STOP_MS) Tests/Guests/guest64_repeat.sh $(GUEST64_RUNS)

# The guest userland for the i386 Linux guest kernel (Kernel/userland, static programs): init (the M4
# checks, user isolation, privileged instructions), the child it execs, and the benchmark (rdinit=/bench),
# packed into a newc initramfs. The x86_64 initramfs holds only the benchmark, for User-Mode Linux.
USERLAND := .build/userland
USERLAND_CFLAGS := -static -O2 -Wall -Wextra
USERLAND_DEPS := Kernel/userland/userland.h Kernel/userland/measure.h Makefile
$(USERLAND)/i386/%: Kernel/userland/%.c $(USERLAND_DEPS)
	@mkdir -p $(@D)
	$(CC) -m32 $(USERLAND_CFLAGS) -o $@ $<
$(USERLAND)/x86_64/%: Kernel/userland/%.c $(USERLAND_DEPS)
	@mkdir -p $(@D)
	$(CC) -m64 $(USERLAND_CFLAGS) -o $@ $<
$(USERLAND)/initramfs-i386.cpio: $(USERLAND)/i386/init $(USERLAND)/i386/child $(USERLAND)/i386/bench Kernel/userland/pack-initramfs.sh
	Kernel/userland/pack-initramfs.sh $@ $(filter-out %.sh,$^)
$(USERLAND)/initramfs-x86_64.cpio: $(USERLAND)/x86_64/bench Kernel/userland/pack-initramfs.sh
	Kernel/userland/pack-initramfs.sh $@ $(filter-out %.sh,$^)
# The TLS fence's cost as guest user code sees it (Kernel/userland/tlscost.c, booted with rdinit=/tlscost).
$(USERLAND)/initramfs-tlscost.cpio: $(USERLAND)/i386/tlscost Kernel/userland/pack-initramfs.sh
	Kernel/userland/pack-initramfs.sh $@ $(filter-out %.sh,$^)
# The host's bare costs behind it: a #GP as SIGSEGV, a modify_ldt write, a trap-flag step as SIGTRAP.
$(USERLAND)/ldtcost: Benchmarks/linux/ldtcost.c Kernel/userland/measure.h Makefile
	@mkdir -p $(@D)
	$(CC) -m32 -O2 -static -Wall -Wextra -o $@ $<
tls-bench: build linux-user $(USERLAND)/initramfs-tlscost.cpio $(USERLAND)/ldtcost
	Benchmarks/linux/tls-fence.sh
# What a 32-bit VMM pays the host for a fault, a signal, a trap (Benchmarks/linux/hostcost.c).
$(USERLAND)/hostcost: Benchmarks/linux/hostcost.c Kernel/userland/measure.h Makefile
	@mkdir -p $(@D)
	$(CC) -m32 $(USERLAND_CFLAGS) -o $@ $<

# User-Mode Linux 6.1 on a host with AVX-512/AMX (Benchmarks/linux/uml-xstate.c), for the UML column.
$(USERLAND)/uml-xstate.so: Benchmarks/linux/uml-xstate.c Makefile
	@mkdir -p $(@D)
	$(CC) -shared -fPIC -O2 -Wall -Wextra -o $@ $< -ldl

initramfs: $(USERLAND)/initramfs-i386.cpio $(USERLAND)/initramfs-x86_64.cpio

# The i386 guest kernel (Kernel/guest-i386.config, built once with the macro set and cached under
# .build/kernel, or under $$KERNEL_WORK): builds it if needed and prints the path of vmlinux.
guest-kernel:
	@Kernel/build-guest.sh | tail -1

# Boot that vmlinux, the very file `previrt run` boots, on QEMU (through its PVH entry note) with the
# userland: GUEST_APPEND chooses init's groups (m4 isolation privileged faults, default all) or
# rdinit=/bench. QEMU exits when init restarts the machine.
GUEST_APPEND ?=
run-guest-kernel-qemu: $(USERLAND)/initramfs-i386.cpio
	@vmlinux=$$(Kernel/build-guest.sh | tail -1) && \
	  qemu-system-i386 -m 128 -display none -no-reboot -serial stdio -kernel "$$vmlinux" \
	    -initrd $(USERLAND)/initramfs-i386.cpio -append "console=ttyS0 panic=-1 $(GUEST_APPEND)"

# Linux-on-Linux, side by side (Benchmarks/linux/bench.py): the benchmark as init under `previrt run`,
# User-Mode Linux and QEMU TCG, natively on the host, and the host's bare costs. Run by `make bench`.
linux-bench: $(USERLAND)/initramfs-i386.cpio $(USERLAND)/initramfs-x86_64.cpio $(USERLAND)/hostcost $(USERLAND)/i386/bench \
		$(USERLAND)/uml-xstate.so
	$(SWIFT) build -c release --product previrt
	python3 Benchmarks/linux/bench.py
