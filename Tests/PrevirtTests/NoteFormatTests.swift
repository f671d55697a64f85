// SPDX-License-Identifier: GPL-3.0-or-later
// Note ABI v1: the Swift encoder/decoder, the bytes GNU as produces, readelf, and the C walker agree.

import Foundation
import PrevirtCatalog
import PrevirtELF
import PrevirtMacros
import PrevirtNote
import PrevirtRuntime
import Testing

@Suite("Note ABI v1")
struct NoteFormatTests {
    /// A linked executable with a few sites, in both ELF classes.
    static func linkedSample(_ arch: Architecture) throws -> [UInt8] {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let source = ".globl _start\n_start:\ncli\nsti\nnop\nmovl %eax,%ss\nout %al,$0x80\nhlt\n"
        try source.write(to: dir.appendingPathComponent("s.s"), atomically: true, encoding: .utf8)
        let as32 = arch == .i386
        #expect(try Toolchain.run("as", [as32 ? "--32" : "--64", try Toolchain.macroSet(arch), "s.s", "-o", "s.o"], in: dir).succeeded)
        #expect(try Toolchain.run("ld", (as32 ? ["-m", "elf_i386"] : []) + ["-Ttext=0x100000", "-o", "s.elf", "s.o"], in: dir).succeeded)
        return Array(try Data(contentsOf: dir.appendingPathComponent("s.elf")))
    }

    @Test("the bytes gas wrote decode, and re-encode to the same bytes", arguments: Architecture.allCases)
    func roundTrip(_ arch: Architecture) throws {
        let elf = try ELFFile(bytes: try Self.linkedSample(arch))
        let section = try #require(elf.section(named: NoteABI.sectionName))
        #expect(section.type == ELFFile.Section.typeNote)
        #expect(section.flags & ELFFile.Section.flagAlloc != 0)
        #expect(section.alignment == 4)
        let bytes = try elf.contents(of: section)
        let notes = try Note.parseSection(bytes)
        #expect(notes.count == 6)
        var reencoded: [UInt8] = []
        for note in notes {
            switch note.payload {
            case .header(let h):
                #expect(h == HeaderRecord(machine: arch.machine, profile: "default"))
                reencoded += Note.encode(type: NoteABI.headerType, descriptor: h.encoded())
            case .site(let s):
                reencoded += Note.encode(type: NoteABI.siteType, descriptor: s.encoded())
            case .unrecognized(_, _, let why):
                Issue.record("unrecognized note: \(why)")
            }
        }
        #expect(reencoded == bytes)
        let sites = try elf.previrtNotes().sites
        #expect(sites.map { $0.record.kind?.name } == ["cli", "sti", "mov-to-seg", "out", "hlt"])
        #expect(sites.map(\.address) == [0x100000, 0x100005, 0x10000b, 0x100010, 0x100015])
        #expect(sites[2].record == SiteRecord(
            relativeSite: sites[2].record.relativeSite, kindID: 10, instructionLength: 2, siteLength: 5,
            modeBits: arch == .i386 ? 32 : 64, flags: .paddingPrecedes))
    }

    @Test("readelf -n prints every entry without complaint", arguments: Architecture.allCases)
    func readelf(_ arch: Architecture) throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data(try Self.linkedSample(arch)).write(to: dir.appendingPathComponent("s.elf"))
        let result = try Toolchain.run("readelf", ["-n", "-W", "s.elf"], in: dir)
        #expect(result.succeeded)
        #expect(result.output.components(separatedBy: "PreVirt").count - 1 == 6)
        #expect(!result.output.lowercased().contains("warning"))
        #expect(!result.output.lowercased().contains("error"))
        #expect(!result.output.lowercased().contains("corrupt"))
    }

    @Test("the freestanding C walker and the Swift decoder find the same sites", arguments: Architecture.allCases)
    func cWalkerAgrees(_ arch: Architecture) throws {
        let elf = try ELFFile(bytes: try Self.linkedSample(arch))
        let section = try #require(elf.section(named: NoteABI.sectionName))
        let bytes = try elf.contents(of: section)
        let swiftSites = try elf.previrtNotes().sites
        final class Box { var sites: [previrt_site] = [] }
        let box = Box()
        var error = previrt_walk_error()
        let count = bytes.withUnsafeBytes { raw in
            withUnsafeMutablePointer(to: &error) { errorPointer in
                previrt_walk_notes(raw.baseAddress, raw.baseAddress! + raw.count, UInt(section.address), { site, ctx in
                    Unmanaged<Box>.fromOpaque(ctx!).takeUnretainedValue().sites.append(site!.pointee)
                    return 0
                }, Unmanaged.passUnretained(box).toOpaque(), errorPointer)
            }
        }
        #expect(count == swiftSites.count)
        #expect(box.sites.map { UInt64($0.address) } == swiftSites.map(\.address))
        #expect(box.sites.map(\.kind) == swiftSites.map(\.record.kindID))
        #expect(box.sites.map(\.site_len) == swiftSites.map(\.record.siteLength))
        #expect(box.sites.map(\.insn_len) == swiftSites.map(\.record.instructionLength))
        #expect(box.sites.map(\.flags) == swiftSites.map(\.record.flags.rawValue))
        #expect(box.sites.map(\.mode) == swiftSites.map(\.record.modeBits))
    }

    @Test("damaged sections: the Swift decoder throws and the C walker stops, both naming the note")
    func damaged() throws {
        let site = Note.encode(type: NoteABI.siteType, descriptor: SiteRecord(
            relativeSite: -16, kindID: 1, instructionLength: 1, siteLength: 5, modeBits: 64).encoded())
        var lying = site + site
        lying[32 + 4] = 0xff  // descsz of note 1 runs past the end
        #expect(throws: NoteError.descriptorOutOfBounds(index: 1, offset: 32, descsz: 0xff)) { try Note.parseSection(lying) }
        var truncated = site + Array(site.prefix(10))
        #expect(throws: NoteError.truncatedNote(index: 1, offset: 32, remaining: 10)) { try Note.parseSection(truncated) }
        var hugeName = site
        hugeName[0] = 0xf0
        #expect(throws: NoteError.nameOutOfBounds(index: 0, offset: 0, namesz: 0xf0)) { try Note.parseSection(hugeName) }
        for (bytes, index, reason) in [(lying, 1, PREVIRT_WALK_DESC_OUT_OF_BOUNDS), (truncated, 1, PREVIRT_WALK_TRUNCATED), (hugeName, 0, PREVIRT_WALK_NAME_OUT_OF_BOUNDS)] {
            var error = previrt_walk_error()
            let count = bytes.withUnsafeBytes { raw in
                previrt_walk_notes(raw.baseAddress, raw.baseAddress! + raw.count, 0x1000, nil, nil, &error)
            }
            #expect(count == -1)
            #expect(error.index == UInt32(index))
            #expect(error.reason == reason)
        }
        truncated.removeAll()
        #expect(try Note.parseSection(truncated).isEmpty)
    }

    @Test("foreign owners, unknown types and bad fields are reported per note, not fatal")
    func unrecognized() throws {
        var foreign = Note.encode(type: NoteABI.siteType, descriptor: Array(repeating: 0, count: 12))
        foreign[12] = UInt8(ascii: "X")  // owner "XreVirt"
        let unknownType = Note.encode(type: 0x5056_0009, descriptor: [1, 2, 3, 4])
        let shortSite = Note.encode(type: NoteABI.siteType, descriptor: [1, 2, 3, 4])
        let badKind = Note.encode(type: NoteABI.siteType, descriptor: SiteRecord(
            relativeSite: 0, kindID: 999, instructionLength: 0, siteLength: 5, modeBits: 48, flags: SiteFlags(rawValue: 0x80)).encoded())
        let notes = try Note.parseSection(foreign + unknownType + shortSite + badKind)
        #expect(notes.count == 4)
        guard case .unrecognized(let owner, _, _) = notes[0].payload else { Issue.record("foreign owner accepted"); return }
        #expect(owner == "XreVirt")
        guard case .unrecognized(_, 0x5056_0009, _) = notes[1].payload else { Issue.record("unknown type accepted"); return }
        guard case .unrecognized(_, _, let why) = notes[2].payload else { Issue.record("short descriptor accepted"); return }
        #expect(why.contains("4-byte descriptor"))
        guard case .site(let bad) = notes[3].payload else { Issue.record("site not decoded"); return }
        #expect(bad.problems.count == 4)
    }
}
