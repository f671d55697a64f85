// SPDX-License-Identifier: GPL-3.0-or-later
// Test support: the x86 files of the binutils 2.40 gas testsuite (Debian's binutils-source), as
// assembly units with the flags from their .d files.

import Foundation

/// One file of the gas testsuite with the flags its .d file assembles it with.
struct CorpusUnit: Sendable, CustomStringConvertible {
    var name: String
    var source: URL
    var flags: [String]
    /// A mode flag (--32, --64, --x32) from the .d file, or nil to try --32 and then --64.
    var explicitMode: String?

    var description: String { "\(name) [\((explicitMode.map { [$0] } ?? []) + flags)]" }
}

enum GasCorpus {
    static let tarball = "/usr/src/binutils/binutils-2.40.tar.xz"
    static let member = "binutils-2.40/gas/testsuite/gas/i386"

    /// Extracts the testsuite once per machine (into the temporary directory) and returns its folder.
    static func directory() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("previrt-gas-corpus-2.40")
        let dir = root.appendingPathComponent(member)
        let marker = root.appendingPathComponent(".complete")
        if FileManager.default.fileExists(atPath: marker.path) { return dir }
        guard FileManager.default.fileExists(atPath: tarball) else {
            throw CorpusError("\(tarball) is missing: install Debian's binutils-source (apt-get install binutils-source)")
        }
        try? FileManager.default.removeItem(at: root)
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let result = try Toolchain.run("tar", ["-xJf", tarball, "-C", root.path, member])
        guard result.succeeded else { throw CorpusError("cannot extract \(member): \(result.output)") }
        try Data().write(to: marker)
        return dir
    }

    /// Every unit: one per .d file (its `#source:` and `#as:` lines), plus every .s no .d names.
    static func units() throws -> [CorpusUnit] {
        let top = try directory()
        var units: [CorpusUnit] = []
        var referenced = Set<String>()
        for subdir in ["", "ilp32"] {
            let dir = subdir.isEmpty ? top : top.appendingPathComponent(subdir)
            let names = try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted()
            for name in names where name.hasSuffix(".d") {
                let text = try String(contentsOf: dir.appendingPathComponent(name), encoding: .utf8)
                var source = String(name.dropLast(2)) + ".s"
                var flags: [String] = []
                for line in text.split(separator: "\n", omittingEmptySubsequences: false).prefix(40) {
                    if line.hasPrefix("#source:") {
                        source = line.dropFirst(8).trimmingCharacters(in: .whitespaces)
                    } else if line.hasPrefix("#as:"), flags.isEmpty {
                        flags = line.dropFirst(4)
                            .replacingOccurrences(of: "${srcdir}/$subdir", with: dir.path)
                            .split(separator: " ").map(String.init)
                    }
                }
                let url = dir.appendingPathComponent(source)
                guard FileManager.default.fileExists(atPath: url.path) else { continue }
                referenced.insert(url.standardizedFileURL.path)
                var mode = flags.first { ["--32", "--64", "--x32"].contains($0) }
                flags.removeAll { ["--32", "--64", "--x32"].contains($0) }
                if mode == nil, subdir == "ilp32" { mode = "--x32" }
                if mode == nil, name.hasPrefix("x86-64") || name.hasPrefix("x86_64") { mode = "--64" }
                units.append(CorpusUnit(name: (subdir.isEmpty ? "" : subdir + "/") + name, source: url, flags: flags, explicitMode: mode))
            }
            for name in names where name.hasSuffix(".s") {
                let url = dir.appendingPathComponent(name)
                if referenced.contains(url.standardizedFileURL.path) { continue }
                let mode: String? = subdir == "ilp32" ? "--x32" : (name.hasPrefix("x86-64") ? "--64" : nil)
                units.append(CorpusUnit(name: (subdir.isEmpty ? "" : subdir + "/") + name, source: url, flags: [], explicitMode: mode))
            }
        }
        return units
    }
}

struct CorpusError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
