// BinutilsConcurrencyTests: libbfd keeps one global file cache that every open, seek and read
// rearranges; CBinutils serializes its entry points so that files used from several threads at once (the
// tests themselves do, in one process) read correctly instead of corrupting that list and crashing.
// SPDX-License-Identifier: GPL-3.0-or-later
import Foundation
import PrevirtBinutils
import Testing

@Suite("libbfd from several threads at once")
struct BinutilsConcurrencyTests {
    /// What one pass over an object reads: every section's bytes, the symbols, every relocation.
    static func read(_ path: String) throws -> String {
        var summary = ""
        for object in try BinaryFile(path: path).objects {
            for section in object.sections where section.hasContents {
                let bytes = try object.contents(of: section)
                summary += "\(section.name) \(bytes.count) \(bytes.reduce(0) { $0 &* 31 &+ Int($1) })\n"
                summary += "\(try object.relocations(in: section).count) relocations\n"
            }
            summary += "\(try object.symbols().map(\.name).joined(separator: ","))\n"
        }
        return summary
    }

    @Test("8 threads open, read and close two objects 200 times each, alternating: every pass reads what one thread alone reads")
    func parallelReads() async throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        var paths: [String] = []
        for (name, body) in [("a", ".text\nf: call g\ncli\nret\n.data\n.long f\n"), ("b", ".text\ng: mov %cr3,%eax\nsti\nret\n.long g\n")] {
            let source = dir.appendingPathComponent("\(name).s"), object = dir.appendingPathComponent("\(name).o")
            try body.write(to: source, atomically: true, encoding: .utf8)
            let r = try Toolchain.run("as", ["--32", source.path, "-o", object.path])
            #expect(r.succeeded, "\(r.output)")
            paths.append(object.path)
        }
        let files = paths
        let expected = try files.map(Self.read)
        let results = try await withThrowingTaskGroup(of: [String].self) { group in
            for _ in 0..<8 {
                group.addTask {
                    var seen: [String] = []
                    for i in 0..<400 { seen.append(try Self.read(files[i % 2])) }
                    return seen
                }
            }
            var all: [[String]] = []
            for try await seen in group { all.append(seen) }
            return all
        }
        #expect(results.count == 8)
        for seen in results {
            for (i, summary) in seen.enumerated() { #expect(summary == expected[i % 2]) }
        }
    }
}
