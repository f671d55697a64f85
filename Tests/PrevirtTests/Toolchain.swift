// SPDX-License-Identifier: GPL-3.0-or-later
// Test support: run the real GNU toolchain (as, ld, gcc, readelf) in scratch directories.

import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtMacros

/// The outcome of one external command.
struct CommandResult: Sendable {
    var status: Int32
    var output: String
    var succeeded: Bool { status == 0 }
}

enum Toolchain {
    /// Runs `executable` with `arguments`; standard output and error are captured together.
    @discardableResult
    /// Runs make in the package (the guests, the VMMs, install): one make at a time, because suites run
    /// in parallel and two makes of one target would write the same file at once while a third test reads it.
    static func make(_ arguments: [String]) throws -> CommandResult {
        makeLock.lock()
        defer { makeLock.unlock() }
        return try run("make", arguments, in: packageRoot)
    }

    private static let makeLock = NSLock()

    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil, input: String? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable.hasPrefix("/") ? executable : "/usr/bin/env")
        process.arguments = executable.hasPrefix("/") ? arguments : [executable] + arguments
        if let directory { process.currentDirectoryURL = directory }
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        if let input {
            let inPipe = Pipe()
            process.standardInput = inPipe
            try process.run()
            inPipe.fileHandleForWriting.write(Data(input.utf8))
            try inPipe.fileHandleForWriting.close()
        } else {
            process.standardInput = FileHandle.nullDevice
            try process.run()
        }
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return CommandResult(status: process.terminationStatus, output: String(decoding: data, as: UTF8.self))
    }

    /// A fresh scratch directory, removed by the caller's `defer`.
    static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("previrt-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The macro set generated in-process, written once per (arch, padding) to a shared directory.
    static func macroSet(_ arch: Architecture, pad: Int? = nil, profile: String = "default") throws -> String {
        try MacroSetCache.shared.path(arch, pad: pad, profile: profile)
    }

    /// Assembles `source` with `flags`, optionally after the macro set; returns the object bytes or the diagnostics.
    static func assemble(_ source: String, flags: [String], macros: String? = nil) throws -> Result<[UInt8], AssemblyFailure> {
        let dir = try scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let input = dir.appendingPathComponent("input.s")
        try source.write(to: input, atomically: false, encoding: .utf8)
        let object = dir.appendingPathComponent("out.o")
        let result = try run("as", flags + (macros.map { [$0] } ?? []) + [input.path, "-o", object.path])
        guard result.succeeded else { return .failure(AssemblyFailure(output: result.output)) }
        return .success(Array(try Data(contentsOf: object)))
    }

    /// Root of the package (for the committed files and the built CLI).
    static let packageRoot: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
}

struct AssemblyFailure: Error, CustomStringConvertible {
    var output: String
    var description: String { output }
}

/// Generated macro sets, written once per process.
final class MacroSetCache: @unchecked Sendable {
    static let shared = MacroSetCache()
    private let lock = NSLock()
    private var paths: [String: String] = [:]
    private let directory: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("previrt-macros-\(getpid())")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }()

    func path(_ arch: Architecture, pad: Int?, profile: String) throws -> String {
        let key = "\(arch.rawValue)-\(profile)-\(pad.map(String.init) ?? "default")"
        lock.lock()
        defer { lock.unlock() }
        if let p = paths[key] { return p }
        var chosen = try Profile.named(profile)
        if let pad { chosen = chosen.padded(by: pad) }
        let url = directory.appendingPathComponent("previrt-\(key).s")
        try GNUAsMacroSet(architecture: arch, profile: chosen).text.write(to: url, atomically: true, encoding: .utf8)
        paths[key] = url.path
        return url.path
    }
}

extension ELFFile {
    /// Contents of the named section, or empty.
    func bytes(of name: String) -> [UInt8] {
        guard let s = section(named: name) else { return [] }
        return (try? contents(of: s)) ?? []
    }
}
