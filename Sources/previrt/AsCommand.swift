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
            Takes the arguments of GNU as. Scans the input first and prepends, as a separate input file, only \
            the macros the input needs (the macro set of --32 or --64), so that a file without sensitive \
            instructions is assembled exactly as plain as would; then runs the real as (PREVIRT_AS, else the \
            first other `as` on PATH). Messages and the exit status are the real assembler's; an error in a \
            line the macros expand names the input's file and line first, as plain as would, except in \
            compiler output with line markers (C, .S), where the last "macro invoked from here" line names \
            the source line (Docs/macro-sets.md, "Diagnostics"). Each input is read once (standard input, \
            /dev/stdin, <(...), a FIFO); @file response files are read for the scan and passed on unchanged; \
            a --MD file lists only the user's files; temporary files go to $TMPDIR; an `as` on PATH that \
            leads back to previrt is refused with exit status 2. The same code ships as the small program \
            previrt-as, which starts faster; a symlink named `as` to either makes a build that can only \
            choose which assembler runs use it:

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
