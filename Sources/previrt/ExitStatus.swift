// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: one exit-status convention for every command (Docs/cli.md).

import ArgumentParser
import Foundation

/// 0 success; 1 findings (`inspect`); 2 bad input or an error (a file that cannot be read or written, a
/// guest that cannot run); 64 usage (an unknown option, a missing or invalid argument: EX_USAGE).
/// `previrt as` leaves with the real assembler's status.
enum ExitStatus {
    static let success: Int32 = 0
    static let findings: Int32 = 1
    static let error: Int32 = 2
    static let usage: Int32 = 64

    /// Prints what `error` says and leaves with its status. The argument parser's own errors (help,
    /// usage, validation) and explicit exit codes keep their status; any other error a command throws is
    /// bad input or a failed operation: 2.
    static func exit(with error: Error) -> Never {
        if error is ExitCode || error is CleanExit || Previrt.exitCode(for: error) != .failure {
            Previrt.exit(withError: error)
        }
        let description = String(describing: error)
        FileHandle.standardError.write(Data("Error: \(description)\n".utf8))
        Foundation.exit(Self.error)
    }
}
