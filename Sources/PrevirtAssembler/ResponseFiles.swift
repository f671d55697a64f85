// SPDX-License-Identifier: GPL-3.0-or-later
// previrt as: the @file response files GNU as expands (libiberty's expandargv), expanded for the scan only.

#if canImport(Glibc)
import Glibc
#endif

/// An argument as GNU as sees it after expanding response files, and where it came from.
struct ExpandedArgument: Equatable {
    var text: String
    /// The index, in the command line previrt as was given, of the argument it is or came from.
    var origin: Int
    /// True when it was read from a response file (it cannot be replaced on the command line).
    var fromResponseFile: Bool
}

enum ResponseFiles {
    /// At most this many response files are read (libiberty stops at 2000: a file that names itself).
    static let maximumFiles = 2000

    /// `arguments` with every `@FILE` that names a readable file replaced by the arguments in it, as
    /// libiberty splits them (white space separates; quotes group; a backslash escapes any character),
    /// recursively. An `@FILE` that cannot be read stays as it is, as it does for GNU as.
    static func expand(_ arguments: [String]) -> [ExpandedArgument] {
        var out: [ExpandedArgument] = []
        var filesRead = 0
        func add(_ arguments: [String], origin: Int?, nested: Bool) {
            for (index, argument) in arguments.enumerated() {
                let from = origin ?? index
                if argument.hasPrefix("@"), argument.count > 1, filesRead < maximumFiles,
                   let text = readText(String(argument.dropFirst())) {
                    filesRead += 1
                    add(split(text), origin: from, nested: true)
                } else {
                    out.append(ExpandedArgument(text: argument, origin: from, fromResponseFile: nested))
                }
            }
        }
        add(arguments, origin: nil, nested: false)
        return out
    }

    /// The arguments of a response file, split as libiberty's buildargv splits them.
    static func split(_ text: String) -> [String] {
        var out: [String] = []
        var current: [UInt8] = []
        var inArgument = false
        var singleQuote = false, doubleQuote = false, backslash = false
        for c in text.utf8 {
            if backslash {
                backslash = false
                current.append(c)
            } else if c == UInt8(ascii: "\\") {
                backslash = true
            } else if singleQuote {
                if c == UInt8(ascii: "'") { singleQuote = false } else { current.append(c) }
            } else if doubleQuote {
                if c == UInt8(ascii: "\"") { doubleQuote = false } else { current.append(c) }
            } else if c == 0x20 || (0x09...0x0d).contains(c) {
                if inArgument { out.append(String(decoding: current, as: UTF8.self)) }
                current = []
                inArgument = false
                continue
            } else if c == UInt8(ascii: "'") {
                singleQuote = true
            } else if c == UInt8(ascii: "\"") {
                doubleQuote = true
            } else {
                current.append(c)
            }
            inArgument = true
        }
        if inArgument { out.append(String(decoding: current, as: UTF8.self)) }
        return out
    }

    /// The contents of a regular file, or nil (a response file must be a regular, readable file).
    static func readText(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var s = stat()
        guard fstat(fd, &s) == 0, (s.st_mode & S_IFMT) == S_IFREG else { return nil }
        return String(decoding: AssemblerMain.readAll(fd), as: UTF8.self)
    }
}
