// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as: the drop-in GNU assembler, as a small program of its own. A compiler runs the assembler
// once per file, so this one loads neither Foundation nor the argument parser, and links the Swift
// runtime statically (no shared Swift library to load at each start; Docs/benchmarks.md has the
// figures). `previrt as` and a symlink named `as` run the same code.

import PrevirtAssembler

#if canImport(Glibc)
import Glibc
#endif

exit(AssemblerMain.run(Array(CommandLine.arguments.dropFirst())))
