// SPDX-License-Identifier: GPL-3.0-or-later
// previrt macros: write a GNU-as macro set.

import ArgumentParser
import PrevirtCatalog
import PrevirtMacros

extension Architecture: ExpressibleByArgument {}
extension GNUAsMacroSet.Flavor: ExpressibleByArgument {}

/// The form `previrt macros` writes the macro set in.
enum MacroFormat: String, ExpressibleByArgument, CaseIterable {
    /// A GNU-as include file, for `-Wa,FILE`.
    case assembler
    /// A C header whose top-level asm() carries the macro set into the translation unit, for
    /// `gcc -include FILE`: a remote compiler (distcc, icecc) that sees only the preprocessed source
    /// still gets the macros.
    case cHeader = "c-header"
}

struct MacrosCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "macros",
        abstract: "Write a GNU-as macro include file that annotates sensitive instructions.",
        discussion: """
            Pass the file to every assembly: gcc -Wa,previrt.s ... (Kbuild: KBUILD_CFLAGS and \
            KBUILD_AFLAGS, or KCFLAGS/KAFLAGS). With gcc -pipe write -Wa,previrt.s,- so that as still \
            reads the compiler's output from standard input. Docs/macro-sets.md explains the file.
            """
    )

    @Option(help: "Target: i386 or x86_64.")
    var arch: Architecture

    @Option(help: "Profile: default or all (see `previrt catalog`).")
    var profile = "default"

    @Option(help: "Pad every site with exactly N NOP bytes instead of the profile's padding (0 to 64).")
    var pad: Int?

    @Option(help: "gnu (GNU as) or llvm (clang's integrated assembler: use it with --format c-header and clang -include).")
    var flavor: GNUAsMacroSet.Flavor = .gnu

    @Flag(help: "For Linux kernels with CONFIG_X86_KERNEL_IBT: mark each site for objtool (.discard.noendbr), so that the notes' relocations are not reported as data relocations to !ENDBR.")
    var objtoolIbt = false

    @Option(help: "assembler (an include file for -Wa,FILE) or c-header (for gcc -include FILE; distcc-safe).")
    var format: MacroFormat = .assembler

    @Option(name: .shortAndLong, help: "Output file (default: standard output). Written whole or not at all.")
    var output: String?

    func validate() throws {
        do throws(CatalogError) {
            _ = try Profile.named(profile)
            if let pad, !(0...Profile.maximumPad).contains(pad) { throw CatalogError.padOutOfRange(pad) }
        } catch {
            throw ValidationError(error.description)
        }
    }

    func run() throws {
        var chosen = try Profile.named(profile)
        var command = "previrt macros --arch \(arch.rawValue) --profile \(profile)"
        if let pad {
            chosen = chosen.padded(by: pad)
            command += " --pad \(pad)"
        }
        if flavor == .llvm { command += " --flavor llvm" }
        if objtoolIbt { command += " --objtool-ibt" }
        if format == .cHeader { command += " --format c-header" }
        var set = GNUAsMacroSet(architecture: arch, profile: chosen, commandLine: command, flavor: flavor)
        set.objtoolNoEndbr = objtoolIbt
        try OutputFile.write(format == .cHeader ? set.cHeader : set.text, to: output)
    }
}

struct NoteHeaderCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "note-header",
        abstract: "Write previrt_note.h, the C definition of the note format and the kind ids.",
        discussion: "With --decode-table, write previrt_decode_table.h instead: the machine encodings of every kind, which the runtime's decoder reads."
    )

    @Option(name: .shortAndLong, help: "Output file (default: standard output).")
    var output: String?

    @Flag(help: "Write the runtime decoder's encoding table (previrt_decode_table.h) instead of the note header.")
    var decodeTable = false

    func run() throws {
        try OutputFile.write(decodeTable ? DecodeTable.text : NoteHeader.text, to: output)
    }
}
