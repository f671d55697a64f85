// SPDX-License-Identifier: GPL-3.0-or-later
// `make install` gives a tool that works from where it is installed, and the help reads as written.

import Foundation
import Testing

@Suite("Installed like a tool", .serialized)
struct InstallTests {
    @Test("make install DESTDIR=... PREFIX=/usr: programs, VMM, macro sets, headers, completions; the installed copy works")
    func install() throws {
        let dest = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dest) }
        // SWIFT=true: the debug products `make test` built are installed as they are (no second build).
        let r = try Toolchain.make(["-s", "install", "CONFIG=debug", "SWIFT=true", "DESTDIR=\(dest.path)", "PREFIX=/usr"])
        try #require(r.succeeded, "\(r.output)")
        let usr = dest.appendingPathComponent("usr")
        for file in ["bin/previrt", "bin/previrt-as", "libexec/previrt/previrt-linux-user", "share/previrt/macros/previrt-x86_64.s",
                     "share/previrt/macros/previrt-i386.s", "include/previrt/previrt_note.h", "include/previrt/previrt_runtime.h",
                     "include/previrt/previrt_decode_table.h", "share/previrt/runtime/patch.c",
                     "share/bash-completion/completions/previrt", "share/zsh/site-functions/_previrt",
                     "share/fish/vendor_completions.d/previrt.fish"] {
            let path = usr.appendingPathComponent(file).path
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            #expect(size > 0, "\(file) missing or empty")
        }
        let previrt = usr.appendingPathComponent("bin/previrt").path
        let version = try Toolchain.run(previrt, ["--version"])
        #expect(version.succeeded && version.output.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0", "\(version.output)")
        // The installed previrt finds the installed VMM (not the source tree's out/host/): the demo guest runs.
        let guest = try Guest.build()
        let run = try Toolchain.run("/usr/bin/env", ["-u", "PREVIRT_LINUX_USER", previrt, "run", guest], in: dest)
        #expect(run.status == 33, "\(run.output)")
        let installedMacros = try String(contentsOf: usr.appendingPathComponent("share/previrt/macros/previrt-x86_64.s"), encoding: .utf8)
        let committed = try String(contentsOf: Toolchain.packageRoot.appendingPathComponent("Macros/previrt-x86_64.s"), encoding: .utf8)
        #expect(installedMacros == committed)
    }

    @Test("--help paragraphs are wrapped by the parser, not broken by hand", arguments: [
        [] as [String], ["macros"], ["as"], ["run"], ["inspect"], ["catalog"], ["note-header"],
    ])
    func helpWrapping(_ subcommand: [String]) throws {
        let r = try Toolchain.run(Fixture.previrt, subcommand + ["--help"])
        #expect(r.succeeded)
        // A hand-broken paragraph, rewrapped, leaves a line of one or two short words ("and").
        // A short line that ends mid-sentence, with the paragraph going on below it, is one.
        let lines = r.output.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let stubs = lines.indices.dropLast().filter { i in
            let line = lines[i], words = line.split(separator: " ")
            return !line.hasPrefix(" ") && (1...2).contains(words.count) && line.count < 16
                && !line.hasSuffix(".") && !line.hasSuffix(":") && !lines[i + 1].isEmpty
        }.map { lines[$0] }
        #expect(stubs.isEmpty, "lines cut short in \(subcommand) --help: \(stubs)")
    }
}
