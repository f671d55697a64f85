// SPDX-License-Identifier: GPL-3.0-or-later
// previrt-as: the drop-in GNU assembler, as a small program of its own. A compiler runs the assembler
// once per file, so this one loads neither Foundation nor the argument parser: it starts in about a
// millisecond. `previrt as` and a symlink named `as` run the same code.

import PrevirtAssembler

#if canImport(Glibc)
import Glibc
#endif

exit(AssemblerMain.run(Array(CommandLine.arguments.dropFirst())))
