// SPDX-License-Identifier: GPL-3.0-or-later
// previrt as: a drop-in GNU assembler.

import ArgumentParser
import PrevirtAssembler
import PrevirtCatalog

struct AsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "as",
        abstract: "Assemble with GNU as, annotating sensitive instructions (a drop-in assembler).",
        discussion: """
            Takes the arguments of GNU as. Scans the input first and prepends, as a separate input file, only
            the macros the input needs (the macro set of --32 or --64), so that a file without sensitive
            instructions is assembled exactly as plain as would; then runs the real as (PREVIRT_AS, else the
            first other `as` on PATH). Diagnostics, file names, line numbers and the exit status are the real
            assembler's. The same code ships as the small program previrt-as, which starts faster; a
            symlink named `as` to either makes a build that can only choose which assembler runs use it:

              mkdir -p bin && ln -s $(command -v previrt-as) bin/as && gcc -B bin/ -c kernel.c
            """
    )

    @Argument(parsing: .captureForPassthrough, help: "The arguments of GNU as.")
    var arguments: [String] = []

    func run() throws {
        let status = AssemblerMain.run(arguments)
        if status != 0 { throw ExitCode(status) }
    }
}
