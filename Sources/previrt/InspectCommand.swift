// SPDX-License-Identifier: GPL-3.0-or-later
// previrt inspect: list, verify and cover the sites of ELF files.

import ArgumentParser
import Foundation
import PrevirtInspector

struct InspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "List the patch sites of ELF files, verify them with libopcodes, find what no site covers.",
        discussion: """
            Reads relocatable objects (each site resolved through its relocation), executables, shared objects,
            static archives (each member) and vmlinux, ELF32 i386 and ELF64 x86-64, through libbfd.

              --verify    each site must decode (libopcodes, in the site's recorded mode) as the recorded kind
                          and length, its padding must be NOPs, and it must lie in an executable section;
                          no two notes may describe one site or overlapping sites; a site shorter than a
                          backend's 5-byte call is reported with the backends it is too short for.
              --coverage  decode every executable section (linearly, restarting at each symbol, as objdump -d
                          does) and report every sensitive instruction that is not the instruction of a site.
              --stats     counts per kind and per section, bytes of padding, padding as a share of the code.
              --json      one JSON document on standard output (schema: Docs/inspect-json.md).

            PreVirt notes are read from every ELF note section, or from the PT_NOTE segments of a file without
            section headers. Only regular files are read (a FIFO or a device is refused).

            Exit status: 0 clean; 1 findings (a site that fails verification, an unannotated sensitive
            instruction, a malformed note); 2 an unusable file (not a regular file, not ELF, not x86, a section
            whose size or address cannot be true, a note section that cannot be walked). Every message is
            explained in Docs/diagnostics.md.
            """
    )

    @Flag(help: "Decode each site and check kind, length, padding and section.")
    var verify = false

    @Flag(help: "Report sensitive instructions that no site covers.")
    var coverage = false

    @Flag(help: "Print counts per kind and section and the padding's share of the code.")
    var stats = false

    @Flag(help: "Print one JSON document instead of text.")
    var json = false

    @Argument(help: "ELF files or archives.")
    var files: [String]

    func run() throws {
        let report = Inspector(options: InspectionOptions(verify: verify, coverage: coverage, stats: stats)).inspect(files)
        // A failed write (a full disk, a closed pipe) is an error, exit 2: not a crash, not a lost report.
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            try OutputFile.write(String(decoding: try encoder.encode(report), as: UTF8.self) + "\n", to: nil)
        } else {
            try OutputFile.write(report.text, to: nil)
            OutputFile.writeStandardError(report.diagnosticsText)
        }
        if report.exitStatus != 0 { throw ExitCode(report.exitStatus) }
    }
}
