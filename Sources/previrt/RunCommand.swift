// SPDX-License-Identifier: GPL-3.0-or-later
// previrt run: run an i386 guest under the linux-user in-place VMM.

import ArgumentParser
import Foundation

struct RunCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run an i386 multiboot guest built with the macro set under the linux-user VMM.",
        discussion: """
            A Linux process is the hypervisor: the guest's loadable segments are mapped at their addresses,
            every site is validated and then patched to call the emulator, and the guest starts as a multiboot
            loader would start it, with `previrt=linux-user` as its command line. Its COM1 output goes to
            standard output; a write of V to QEMU's isa-debug-exit port (0xf4) ends the run with exit status
            (V << 1) | 1, as under QEMU. A guest the VMM cannot patch (a tampered site, an instruction it does
            not emulate) is refused with exit status 2 and a message naming the site, and nothing runs.

            The VMM itself is the program previrt-linux-user (`make linux-user` builds it into out/host/);
            previrt looks for it in $PREVIRT_LINUX_USER, next to itself, then in the package's out/host/.
            """
    )

    @Argument(help: "The guest: an ELF32 i386 executable.")
    var guest: String

    func run() throws {
        guard let loader = Self.loader() else {
            throw ValidationError("cannot find previrt-linux-user: run `make linux-user`, or set PREVIRT_LINUX_USER")
        }
        guard FileManager.default.isReadableFile(atPath: guest) else {
            throw ValidationError("cannot read \(guest)")
        }
        let args: [UnsafeMutablePointer<CChar>?] = [strdup(loader), strdup(guest), nil]
        execv(loader, args)
        throw OutputError("cannot start \(loader): \(String(cString: strerror(errno)))")
    }

    static func loader() -> String? {
        let executable = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        var candidates: [String?] = [
            ProcessInfo.processInfo.environment["PREVIRT_LINUX_USER"],
            executable.appendingPathComponent("previrt-linux-user").path,
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
