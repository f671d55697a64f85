// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: inspect one object: read its notes, locate, verify and cover its sites.

import PrevirtBinutils
import PrevirtCatalog
import PrevirtNote

/// What `previrt inspect` should do beyond listing.
public struct InspectionOptions: Sendable {
    public var verify = false
    public var coverage = false
    public var stats = false
    public init(verify: Bool = false, coverage: Bool = false, stats: Bool = false) {
        self.verify = verify
        self.coverage = coverage
        self.stats = stats
    }
}

/// A site located in the object.
struct LocatedSite {
    var note: Note
    var record: SiteRecord
    var section: ObjectFile.Section?
    var sectionOffset: UInt64
    var address: UInt64
    var instructionAddress: UInt64 { address &+ UInt64(record.instructionOffset) }
}

struct ObjectInspector {
    let object: ObjectFile
    let path: String
    let options: InspectionOptions
    var report: FileReport
    private var sectionBytes: [Int: [UInt8]] = [:]
    /// Sections whose size or address cannot be true (checked once, first): never read, never used.
    private var unusableSections = Set<Int>()
    private var decoders: [Int: Disassembler] = [:]
    private lazy var namer = SymbolNamer(object: object)

    /// e_machine as the object's own header says it (libbfd reports 0 for a machine it was not built
    /// for), read through libbfd so that an archive member's header is its own.
    private func headerMachine() -> UInt16 {
        if object.machine != 0 { return object.machine }
        return object.leadingBytes(20).flatMap { ELFMachine.read(fromHeader: $0) } ?? 0
    }

    init(object: ObjectFile, path: String, options: InspectionOptions) {
        self.object = object
        self.path = path
        self.options = options
        report = FileReport(path: path, format: object.format, arch: object.architecture, relocatable: object.isRelocatable)
    }

    mutating func run() -> FileReport {
        guard object.isELF else {
            diagnose(.notELF, .unusable, "\(object.format) is not ELF; previrt notes exist only in ELF files")
            return report
        }
        guard object.machine == NoteABI.machineI386 || object.machine == NoteABI.machineX86_64 else {
            diagnose(.notX86, .unusable, "\(ELFMachine.describe(headerMachine())) is not i386 or x86-64")
            return report
        }
        checkSections()
        let sites = readSites()
        if options.verify {
            for i in report.sites.indices {
                let checked = verified(report.sites[i], sites[i])
                report.sites[i] = checked
            }
            checkOverlaps(sites)
        }
        if options.coverage { cover(sites) }
        if options.stats { report.stats = statistics(sites) }
        return report
    }

    // MARK: - Sections

    /// Every section the inspector may read or add addresses of is checked against the file first:
    /// its bytes must lie inside the file (offset plus size, no overflow), and an allocated section must
    /// end inside the 64-bit address space. Such a section makes the file unusable (exit 2).
    private mutating func checkSections() {
        for section in object.sections where section.size > 0 {
            let used = section.isCode || section.isAllocated || section.isNote || section.name == NoteABI.sectionName
            guard used else { continue }
            if section.hasContents && !section.isInFile {
                unusableSections.insert(section.index)
                diagnose(.unreadableSection, .unusable, "\(section.name): claims 0x\(hex(section.size)) bytes at file offset 0x\(hex(section.fileOffset)), beyond the end of the \(object.fileSize)-byte file")
            } else if (section.isAllocated || section.isCode) && section.end == nil {
                unusableSections.insert(section.index)
                diagnose(.unreadableSection, .unusable, "\(section.name): 0x\(hex(section.size)) bytes at address 0x\(hex(section.address)) run past the end of the 64-bit address space")
            }
        }
        usableSections = object.sections.filter { !unusableSections.contains($0.index) }
        usableSectionByIndex = Dictionary(usableSections.map { ($0.index, $0) }, uniquingKeysWith: { first, _ in first })
    }

    /// The sections that passed `checkSections`, in file order and by index.
    private var usableSections: [ObjectFile.Section] = []
    private var usableSectionByIndex: [Int: ObjectFile.Section] = [:]

    // MARK: - Notes

    /// `.note.previrt` in objects; in a linked image the linker script may have merged it with other
    /// notes (Linux's vmlinux.lds puts every `.note.*` into `.notes`, a vDSO keeps them in `.note`), so
    /// every ELF note section (SHT_NOTE, whatever its name) is read, and in a file without section
    /// headers every PT_NOTE segment. Only `.note.previrt` must hold PreVirt notes alone: in the other
    /// note sections, foreign notes are normal and are skipped.
    private var noteSections: [ObjectFile.Section] {
        usableSections.filter { $0.name == NoteABI.sectionName || ($0.isNote || $0.name == ".notes" || $0.name.hasPrefix(".note.")) && $0.hasContents }
    }

    private mutating func readSites() -> [LocatedSite] {
        var located: [LocatedSite] = []
        var sawPreVirt = false
        for section in noteSections {
            let own = section.name == NoteABI.sectionName
            let bytes: [UInt8]
            let notes: [Note]
            do {
                bytes = try contents(section)
                notes = try Note.parseSection(bytes)
            } catch let error as NoteError {
                if own || sawPreVirtNote(section) {
                    diagnose(.noteStructure, .unusable, "\(section.name): \(error)")
                }
                continue
            } catch {
                diagnose(.unreadableSection, .unusable, "\(section.name): \(error)")
                continue
            }
            let relocations = object.isRelocatable ? Self.byOffset((try? object.relocations(in: section)) ?? []) : [:]
            for note in notes {
                if !own, case .unrecognized(let owner, _, _) = note.payload, owner != NoteABI.owner { continue }
                sawPreVirt = true
                switch note.payload {
                case .header(let h):
                    report.headers.append(HeaderReport(abi_version: Int(h.abiVersion), machine: Int(h.machine), generator: h.generator, profile: h.profile))
                    if h.abiVersion != NoteABI.version {
                        diagnose(.abiVersion, .finding, "note \(note.index) at offset 0x\(hex(note.offset)): header says ABI version \(h.abiVersion); this inspector reads version \(NoteABI.version)")
                    }
                case .unrecognized(let owner, let type, let reason):
                    let code: DiagnosticCode = owner != NoteABI.owner ? .foreignNote : (type == NoteABI.siteType || type == NoteABI.headerType ? .badDescriptor : .unknownType)
                    diagnose(code, .finding, "note \(note.index) at offset 0x\(hex(note.offset)): \(reason)")
                case .site(let record):
                    let site = locate(note, record, in: section, relocations: relocations, noteBytes: bytes)
                    located.append(site)
                    report.sites.append(siteReport(site))
                }
            }
        }
        if !sawPreVirt {
            diagnose(.noNotes, .note, "no PreVirt notes (no \(NoteABI.sectionName), nor PreVirt entries in another note section): nothing was assembled with a previrt macro set")
        }
        return located
    }

    /// Whether a merged note section holds PreVirt notes at all (then damage in it matters).
    private mutating func sawPreVirtNote(_ section: ObjectFile.Section) -> Bool {
        guard let bytes = try? contents(section) else { return false }
        let owner = Array(NoteABI.owner.utf8)
        return bytes.indices.dropLast(owner.count).contains { i in bytes[i..<(i + owner.count)].elementsEqual(owner) }
    }

    private mutating func locate(
        _ note: Note, _ record: SiteRecord, in noteSection: ObjectFile.Section, relocations: [UInt64: ObjectFile.Relocation], noteBytes: [UInt8]
    ) -> LocatedSite {
        var site = LocatedSite(note: note, record: record, section: nil, sectionOffset: 0, address: 0)
        if object.isRelocatable {
            guard let r = relocations[UInt64(note.descriptorOffset)] else {
                diagnose(.noRelocation, .finding, "note \(note.index) at offset 0x\(hex(note.offset)): the site field has no relocation, so the site cannot be located")
                return site
            }
            let addend = r.hasExplicitAddend ? r.addend : Int64(record.relativeSite)
            let offset = UInt64(bitPattern: Int64(bitPattern: r.symbolValue) &+ addend)
            site.section = r.symbolSection.flatMap { usableSectionByIndex[$0] }
            site.sectionOffset = offset
            site.address = (site.section?.address ?? 0) &+ offset
        } else {
            let field = noteSection.address &+ UInt64(note.descriptorOffset)
            site.address = UInt64(bitPattern: Int64(bitPattern: field) &+ Int64(record.relativeSite))
            let candidates = usableSections.filter {
                $0.isAllocated && $0.size > 0 && !$0.isNote && $0.name != NoteABI.sectionName && $0.contains(site.address)
            }
            site.section = candidates.first { $0.isCode } ?? candidates.first
            site.sectionOffset = site.section.map { site.address - $0.address } ?? 0
        }
        return site
    }

    private mutating func siteReport(_ site: LocatedSite) -> SiteReport {
        let r = site.record
        var status = SiteStatus.unverified
        let place = "note \(site.note.index) at offset 0x\(hex(site.note.offset)): site 0x\(hex(site.address))"
        if !r.problems.isEmpty {
            status = .invalid
            diagnose(.invalidSite, .finding, "\(place): \(r.problems.joined(separator: "; "))")
        } else if site.section == nil {
            status = .outside
            diagnose(.outside, .finding, "\(place) lies outside every section")
        } else if let s = site.section, site.sectionOffset > s.size || UInt64(r.siteLength) > s.size - site.sectionOffset {
            status = .outside
            diagnose(.beyondSection, .finding, "\(place) runs past the end of \(s.name)")
        } else if let s = site.section, !s.isCode {
            status = .notExecutable
            diagnose(.notExecutable, .finding, "\(place) is in \(s.name), which is not executable (an alternatives replacement or data: the in-place VMM will not patch it)")
        }
        let name = site.section.flatMap { namer.name(section: $0.index, offset: site.sectionOffset) }
        if let symbol = name?.symbol, Self.isTemplate(symbol) {
            diagnose(.template, .note, "\(place) is in \(symbol), code the kernel copies at run time: the note points at the template, and the copies carry none")
        }
        return SiteReport(
            note: site.note.index, note_offset: site.note.offset, address: site.address, section: site.section?.name,
            section_offset: site.sectionOffset, symbol: name?.symbol, offset: name?.offset ?? site.sectionOffset,
            kind: r.kind?.name ?? "unknown", kind_id: Int(r.kindID), mode: Int(r.modeBits), insn_len: Int(r.instructionLength),
            site_len: Int(r.siteLength), flags: r.flags.names, insn: nil, status: status,
            too_short_for: r.problems.isEmpty ? BackendRequirement.tooShort(siteLength: Int(r.siteLength), modeBits: Int(r.modeBits)) : [])
    }

    /// The relocations of a note section by the offset of the field they apply to (the first one wins,
    /// as a linear search would find it): one lookup per note, so inspection stays linear in the sites.
    static func byOffset(_ relocations: [ObjectFile.Relocation]) -> [UInt64: ObjectFile.Relocation] {
        var index: [UInt64: ObjectFile.Relocation] = [:]
        index.reserveCapacity(relocations.count)
        for r in relocations where index[r.offset] == nil { index[r.offset] = r }
        return index
    }

    // MARK: - Verify

    private mutating func verified(_ site: SiteReport, _ located: LocatedSite) -> SiteReport {
        var report = site
        report.status = verify(&report, located)
        if report.status == .ok, !report.too_short_for.isEmpty {
            let backends = report.too_short_for.joined(separator: ", ")
            diagnose(.shortSite, .finding, "note \(located.note.index) at offset 0x\(hex(located.note.offset)): site 0x\(hex(located.address))\(report.symbol.map { " (\($0)+0x\(hex(report.offset)))" } ?? ""): \(report.site_len) bytes, too short for \(backends) (a 5-byte call rel32); rebuild with more padding")
        }
        return report
    }

    /// The status of one site, after decoding it; also fills in its instruction text.
    private mutating func verify(_ report: inout SiteReport, _ site: LocatedSite) -> SiteStatus {
        guard report.status == .unverified, let section = site.section, let kind = site.record.kind,
              let mode = site.record.mode, let bytes = try? contents(section), let decoder = decoder(mode.rawValue) else { return report.status }
        let r = site.record
        guard site.sectionOffset &+ UInt64(r.siteLength) <= UInt64(bytes.count) else { return report.status }
        let place = "note \(site.note.index) at offset 0x\(hex(site.note.offset)): site 0x\(hex(site.address))\(report.symbol.map { " (\($0)+0x\(hex(report.offset)))" } ?? "")"
        let start = Int(site.sectionOffset) + r.instructionOffset
        guard let insn = bytes.withUnsafeBufferPointer({ decoder.decode($0, offset: start, address: site.instructionAddress) }) else {
            diagnose(.undecodable, .finding, "\(place): libopcodes cannot decode the bytes there as \(mode.rawValue)-bit code")
            return .undecodable
        }
        report.insn = Self.tidy(insn.text)
        let decodedKind = SensitiveMatcher.all.kind(ofText: insn.text)
        if decodedKind?.id != kind.id || insn.length != Int(r.instructionLength) {
            diagnose(.mismatch, .finding, "\(place): recorded as \(kind.name), \(r.instructionLength) bytes, \(mode.rawValue)-bit; decodes as '\(insn.text)' (\(insn.length) bytes\(decodedKind.map { ", \($0.name)" } ?? ", not sensitive"))")
            return .mismatch
        }
        let padStart = Int(site.sectionOffset) + (r.flags.contains(.paddingPrecedes) ? 0 : Int(r.instructionLength))
        let padding = Array(bytes[padStart..<(padStart + r.paddingLength)])
        if padding != NopTable.padding(count: r.paddingLength, modeBits: mode.rawValue) {
            diagnose(.badPadding, .finding, "\(place): the \(r.paddingLength) padding bytes \(padding.hexList) are not the NOP padding of \(mode.rawValue)-bit code")
            return .badPadding
        }
        return .ok
    }

    /// Two notes for one site, or sites whose bytes overlap: the runtime patches all sites or none, and
    /// refuses both. The later note of each pair is reported (and its site's status says so).
    private mutating func checkOverlaps(_ sites: [LocatedSite]) {
        let order = sites.indices.filter { sites[$0].section != nil && sites[$0].record.problems.isEmpty }
            .sorted { a, b in
                let x = sites[a], y = sites[b]
                return (x.section!.index, x.sectionOffset, a) < (y.section!.index, y.sectionOffset, b)
            }
        var previous: Int?
        var reach: (index: Int, end: UInt64)?  // the site that reaches furthest so far in this section
        for i in order {
            let site = sites[i]
            let start = site.sectionOffset
            if let p = previous, sites[p].section!.index == site.section!.index {
                let first = sites[p]
                if first.sectionOffset == start {
                    diagnose(.duplicateSite, .finding, "note \(site.note.index) at offset 0x\(hex(site.note.offset)): site 0x\(hex(site.address)) (\(site.section!.name)+0x\(hex(start))) is also described by note \(first.note.index) at offset 0x\(hex(first.note.offset))")
                    mark(i, .duplicate)
                } else if let r = reach, start < r.end {
                    let other = sites[r.index]
                    diagnose(.overlappingSite, .finding, "note \(site.note.index) at offset 0x\(hex(site.note.offset)): site 0x\(hex(site.address)) (\(site.section!.name)+0x\(hex(start)), \(site.record.siteLength) bytes) overlaps site 0x\(hex(other.address)) of note \(other.note.index) (\(other.record.siteLength) bytes)")
                    mark(i, .overlapping)
                }
            } else {
                reach = nil
            }
            let end = start &+ UInt64(site.record.siteLength)
            if reach == nil || end > reach!.end { reach = (i, end) }
            previous = i
        }
    }

    private mutating func mark(_ site: Int, _ status: SiteStatus) {
        if !report.sites[site].status.isFinding { report.sites[site].status = status }
    }

    // MARK: - Coverage

    private mutating func cover(_ sites: [LocatedSite]) {
        // By (section, offset), not by address: every section of a relocatable object starts at 0.
        var covered = Set<SectionPlace>()
        var prefixedEnds = Set<SectionPlace>()
        for s in sites where s.record.problems.isEmpty {
            guard let section = s.section else { continue }
            let insn = s.sectionOffset &+ UInt64(s.record.instructionOffset)
            covered.insert(SectionPlace(section: section.index, offset: insn))
            if s.record.flags.contains(.prefixMayPrecede) {
                prefixedEnds.insert(SectionPlace(section: section.index, offset: insn &+ UInt64(s.record.instructionLength)))
            }
        }
        let matcher = SensitiveMatcher(profile: coverageProfile)
        let modeBits = object.machine == NoteABI.machineX86_64 ? 64 : 32
        guard let decoder = decoder(modeBits) else { return }
        var unannotated: [UnannotatedReport] = []
        var decodeErrors = 0
        var decoded = 0
        for section in usableSections where section.isCode && section.hasContents && section.size > 0 {
            guard let bytes = try? contents(section) else { continue }
            let starts = namer.starts(in: section.index, size: section.size)
            bytes.withUnsafeBufferPointer { buffer in
                for (from, to) in zip(starts, starts.dropFirst() + [Int(section.size)]) where from < to {
                    var offset = from
                    while offset < to {
                        let address = section.address + UInt64(offset)
                        guard let length = decoder.length(buffer, offset: offset, address: address) else {
                            decodeErrors += 1
                            if decodeErrors <= 20 {
                                diagnose(.decodeError, .note, "\(section.name)+0x\(hex(offset)): libopcodes cannot decode the bytes there; skipping one byte")
                            }
                            offset += 1
                            continue
                        }
                        decoded += 1
                        // Only a candidate by its bytes is decoded again, with its text.
                        if CandidateFilter.mightBeSensitive(buffer, offset, length, modeBits: modeBits),
                           !covered.contains(SectionPlace(section: section.index, offset: UInt64(offset))),
                           !prefixedEnds.contains(SectionPlace(section: section.index, offset: UInt64(offset + length))),
                           let insn = decoder.decode(buffer, offset: offset, address: address),
                           let kind = matcher.kind(ofText: insn.text) {
                            let name = namer.name(section: section.index, offset: UInt64(offset))
                            unannotated.append(UnannotatedReport(
                                address: address, section: section.name, symbol: name?.symbol, offset: name?.offset ?? UInt64(offset),
                                insn: Self.tidy(insn.text), kind: kind.name))
                        }
                        offset += length
                    }
                }
            }
        }
        if decodeErrors > 20 { diagnose(.decodeError, .note, "\(decodeErrors - 20) more decode errors not shown") }
        for u in unannotated {
            diagnose(.unannotated, .finding, "0x\(hex(u.address)) (\(u.symbol.map { "\($0)+0x\(hex(u.offset))" } ?? "\(u.section)+0x\(hex(u.offset))")): '\(u.insn)' is sensitive (\(u.kind)) and no site covers it")
        }
        report.unannotated = unannotated
        decodedCount = decoded
    }

    private var decodedCount: Int?

    /// Coverage checks the kinds of the profile the headers name (default when there is none).
    private var coverageProfile: Profile {
        let names = Set(report.headers.map(\.profile))
        if names.count == 1, let name = names.first, let p = try? Profile.named(name) { return p }
        return Profile.default
    }

    // MARK: - Stats

    private func statistics(_ sites: [LocatedSite]) -> StatsReport {
        var byKind: [String: Int] = [:]
        var bySection: [String: Int] = [:]
        var padding = 0
        for s in sites {
            byKind[s.record.kind?.name ?? "unknown", default: 0] += 1
            bySection[s.section?.name ?? "(none)", default: 0] += 1
            padding += max(0, s.record.paddingLength)
        }
        // Saturating: the sizes were checked against the file, but a sum must not trap either.
        let code = usableSections.filter { $0.isCode && $0.hasContents }.reduce(UInt64(0)) { sum, s in
            let (total, overflow) = sum.addingReportingOverflow(s.size)
            return overflow ? .max : total
        }
        return StatsReport(
            sites: sites.count, by_kind: byKind, by_section: bySection, padding_bytes: padding, code_bytes: code,
            padding_share: code == 0 ? 0 : Double(padding) / Double(code), decoded_instructions: decodedCount)
    }

    // MARK: - Helpers

    private mutating func contents(_ section: ObjectFile.Section) throws -> [UInt8] {
        if let b = sectionBytes[section.index] { return b }
        let b = try object.contents(of: section)
        sectionBytes[section.index] = b
        return b
    }

    private mutating func decoder(_ modeBits: Int) -> Disassembler? {
        if let d = decoders[modeBits] { return d }
        let d = try? Disassembler(modeBits: modeBits)
        decoders[modeBits] = d
        return d
    }

    private mutating func diagnose(_ code: DiagnosticCode, _ severity: Severity, _ message: String) {
        report.diagnostics.append(Diagnostic(code: code.rawValue, severity: severity, message: "\(path): \(message)"))
    }

    /// Code that Linux copies at run time and runs from the copy: optprobe templates, ftrace trampolines,
    /// the EFI thunk's return trampoline (the last two kept in .rodata in a defconfig vmlinux).
    static func isTemplate(_ symbol: String) -> Bool {
        symbol.hasPrefix("optprobe_template") || symbol.hasPrefix("ftrace_regs_caller") || symbol.hasPrefix("ftrace_caller")
            || symbol.hasPrefix("ftrace_stub") || symbol.contains("trampoline_template") || symbol.hasPrefix("__efi64_thunk_ret_tramp")
    }

    /// libopcodes pads the mnemonic with blanks: `mov    %cr3,%rax` reads better as `mov %cr3,%rax`.
    static func tidy(_ text: String) -> String {
        text.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
    }
}

func hex<T: BinaryInteger>(_ n: T) -> String { String(n, radix: 16) }

/// A place in an object: a section and an offset in it.
struct SectionPlace: Hashable {
    var section: Int
    var offset: UInt64
}

extension SensitiveMatcher {
    /// Every kind of the catalog: what a site's instruction is checked against.
    static let all = SensitiveMatcher(profile: .all)
}
