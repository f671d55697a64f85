// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the command-line entry point.

import ArgumentParser
import Foundation
import PrevirtAssembler
import PrevirtNote

@main
struct Previrt: ParsableCommand {
    /// Invoked as `as` (a symlink named as), previrt is the drop-in assembler and parses nothing itself.
    static func main() {
        if URL(fileURLWithPath: CommandLine.arguments[0]).lastPathComponent == "as" {
            Foundation.exit(AssemblerMain.run(Array(CommandLine.arguments.dropFirst())))
        }
        do {
            var command = try Self.parseAsRoot()
            try command.run()
        } catch {
            ExitStatus.exit(with: error)
        }
    }

    static let configuration = CommandConfiguration(
        commandName: "previrt",
        abstract: "Pre-virtualization for x86: annotate sensitive instructions at assembly time.",
        discussion: """
            previrt generates GNU-as macro sets that emit every sensitive x86 instruction unchanged, \
            pad it with NOPs and record the site in the ELF note section .note.previrt, so that one
            binary runs on bare hardware and, after an in-place VMM rewrites the sites, on a hypervisor.

              previrt macros --arch x86_64 -o previrt.s
              gcc -Wa,previrt.s -c kernel.c
              previrt inspect --verify --coverage kernel.o
            """,
        version: String(NoteABI.generatorVersion.dropFirst("previrt ".count)),
        subcommands: [CatalogCommand.self, MacrosCommand.self, AsCommand.self, InspectCommand.self, RunCommand.self, NoteHeaderCommand.self]
    )
}
