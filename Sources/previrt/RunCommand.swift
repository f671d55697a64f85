// SPDX-License-Identifier: GPL-3.0-or-later
// previrt run: run an i386 guest under the linux-user in-place VMM.

import ArgumentParser
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an i386 guest built with the macro set (a Linux vmlinux, or a multiboot guest) under the linux-user VMM.",
        discussion: """
            A Linux process is the hypervisor: the guest's ELF file is checked (every offset and size against \
            the file, the notes and every site against the guest's segments), its loadable segments are loaded \
            into guest RAM at their physical addresses, every site is validated and then patched to call the \
            emulator, and the guest starts. A kernel with a PVH entry note (Linux's vmlinux built with \
            CONFIG_PVH) starts as QEMU's -kernel starts it: 32-bit protected mode, paging off, %ebx pointing \
            at an hvm_start_info with the command line (--append, plus the reservetop= the VMM needs), the \
            initrd (--initrd) and the memory map (--memory). Any other guest starts as a multiboot loader \
            would start it, with `previrt=linux-user` as its command line. The guest's COM1 (a 16550A on IRQ 4) \
            writes to standard output and reads standard input, which the VMM polls without blocking.

            The guest cannot reach the host kernel: system call instructions in guest code are stopped \
            (Syscall User Dispatch) and reflected to the guest as on hardware, and a seccomp filter allows the \
            VMM itself only to write to standard output and error, read standard input and exit (besides the \
            calls for guest memory and the timer). Guest faults (an unannotated \
            cli, ud2, a divide by zero, a jump to unmapped memory, ...) go to the guest's virtual IDT when it \
            has a gate for the vector, and otherwise end the run with a message naming the fault and address.

            Exit status: the guest's own status when it writes V to QEMU's isa-debug-exit port (0xf4): \
            (V << 1) | 1, always odd, as under QEMU; 0 when the guest resets the machine (Linux's restart); 4 when \
            it halts with interrupts off (Linux's halt); 2 when the guest \
            is refused (not a regular file, a bad ELF file, a tampered site, an instruction the VMM does not \
            emulate: nothing runs), faults, tries a host system call, or its console output cannot be written, \
            and when one of the VMM's processes is killed by a signal (the run is stopped, the others killed); \
            64 for a usage error; 70 for an internal error of the VMM; 124 when --timeout expires.

            Each guest address space (a guest process) is held by one host process of a pool \
            (--address-spaces, default \(RunCommand.defaultAddressSpaces)), so a guest context switch hands the virtual \
            CPU to the process that already has that process's pages mapped; the process previrt starts \
            supervises them and runs no guest code.

            The VMM itself is the program previrt-linux-user (`make linux-user` builds it into out/host/); \
            previrt looks for it in $PREVIRT_LINUX_USER, next to itself, in ../libexec/previrt/ (where \
            `make install` puts it), then in the package's out/host/.
            """
    )

    @Option(help: ArgumentHelp("Stop the guest after this many seconds (exit status 124).", valueName: "seconds"))
    var timeout: Double?

    @Option(help: ArgumentHelp("Guest RAM in MiB, from 2 to \(Self.maximumMemory) (default \(Self.defaultMemory)).", valueName: "MiB"))
    var memory: Int?

    @Option(help: ArgumentHelp("The kernel command line (PVH kernels only); the VMM appends reservetop=.", valueName: "cmdline"))
    var append: String?

    @Option(help: ArgumentHelp("An initial RAM disk, given to a PVH kernel as module 0.", valueName: "file"))
    var initrd: String?

    @Option(help: ArgumentHelp("Host processes that hold guest address spaces, from 1 to \(Self.maximumAddressSpaces) (default \(Self.defaultAddressSpaces)); 1 swaps every guest process's pages in one host process.", valueName: "N"))
    var addressSpaces: Int?

    @Flag(help: "Log every emulated site and every exception delivered to the guest on standard error.")
    var trace = false

    @Argument(help: "The guest: an ELF32 i386 executable (a vmlinux with a PVH entry note, or a multiboot guest).")
    var guest: String

    /// Guest RAM's bounds (Hosts/linux-user/host.h: VMM_MAX_RAM_MIB, VMM_DEFAULT_RAM_MIB).
    static let maximumMemory = 144
    static let defaultMemory = 64
    /// The address-space pool's bounds (host.h: POOL_MAX_SLOTS, POOL_DEFAULT_SLOTS).
    static let maximumAddressSpaces = 32
    static let defaultAddressSpaces = 8

    func validate() throws {
        if let timeout, !(timeout > 0 && timeout <= 1_000_000) {
            throw ValidationError("--timeout must be a number of seconds greater than 0 (at most 1000000)")
        }
        if let memory, !(2...Self.maximumMemory).contains(memory) {
            throw ValidationError("--memory must be a number of MiB from 2 to \(Self.maximumMemory)")
        }
        if let addressSpaces, !(1...Self.maximumAddressSpaces).contains(addressSpaces) {
            throw ValidationError("--address-spaces must be a whole number from 1 to \(Self.maximumAddressSpaces)")
        }
        if let append, append.utf8.count > 2000 || append.utf8.contains(0) {
            throw ValidationError("--append must be at most 2000 bytes")
        }
    }

    func run() throws {
        do {
            try start()
        } catch let error as RunError {
            FileHandle.standardError.write(Data("previrt run: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Replaces this process with the VMM; returns only by throwing.
    private func start() throws {
        guard let loader = Self.loader() else {
            throw RunError.noLoader
        }
        try Self.checkGuest(guest)
        if let initrd { try Self.checkGuest(initrd) }
        var arguments = [loader]
        if let timeout { arguments += ["--timeout", String(timeout)] }
        if let memory { arguments += ["--memory", String(memory)] }
        if let append { arguments += ["--append", append] }
        if let initrd { arguments += ["--initrd", initrd] }
        if let addressSpaces { arguments += ["--address-spaces", String(addressSpaces)] }
        if trace { arguments.append("--trace") }
        arguments += ["--", guest]
        let argv = arguments.map { strdup($0) } + [nil]
        execv(loader, argv)
        throw RunError.cannotStart(loader, String(cString: strerror(errno)))
    }

    /// Refuses a guest that does not exist or is not a regular file (a FIFO would block the loader).
    static func checkGuest(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw RunError.unreadableGuest(path, String(cString: strerror(errno)))
        }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw RunError.unreadableGuest(path, "not a regular file")
        }
    }

    static func loader() -> String? {
        // Where this program is (argv[0] may be a bare name found on PATH): /proc/self/exe, resolved.
        let itself = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let executable = URL(fileURLWithPath: itself).resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates: [String?] = [
            ProcessInfo.processInfo.environment["PREVIRT_LINUX_USER"],
            executable.appendingPathComponent("previrt-linux-user").path,
            // Installed (make install): PREFIX/bin/previrt and PREFIX/libexec/previrt/previrt-linux-user.
            executable.deletingLastPathComponent().appendingPathComponent("libexec/previrt/previrt-linux-user").path,
        ]
        // In a source tree the tool is .build/<triple>/debug/previrt: look up for out/host/.
        var directory = executable
        for _ in 0..<4 {
            directory = directory.deletingLastPathComponent()
            candidates.append(directory.appendingPathComponent("out/host/previrt-linux-user").path)
        }
        return candidates.compactMap { $0 }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Why `previrt run` could not start the guest: each is exit status 2 with a message.
enum RunError: Error, CustomStringConvertible {
    case noLoader
    case unreadableGuest(String, String)
    case cannotStart(String, String)

    var description: String {
        switch self {
        case .noLoader: "cannot find previrt-linux-user: run `make linux-user`, or set PREVIRT_LINUX_USER"
        case .unreadableGuest(let path, let why): "\(path): \(why)"
        case .cannotStart(let loader, let why): "cannot start \(loader): \(why)"
        }
    }
}
