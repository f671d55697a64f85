// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: what `previrt inspect` reports, as values (also its JSON schema, see Docs/inspect-json.md).

/// How bad a diagnostic is, and what it does to the exit status.
public enum Severity: String, Encodable, Sendable, Comparable {
    /// Informative (a decode error during coverage, a file without notes): exit status unchanged.
    case note
    /// A finding: a site that fails verification, an unannotated sensitive instruction: exit status 1.
    case finding
    /// The input cannot be used: exit status 2.
    case unusable

    private var rank: Int { self == .note ? 0 : self == .finding ? 1 : 2 }
    public static func < (a: Severity, b: Severity) -> Bool { a.rank < b.rank }
}

/// Every diagnostic the inspector can print; each is explained in Docs/diagnostics.md (a test checks).
public enum DiagnosticCode: String, CaseIterable, Sendable {
    case unreadable, emptyArchive = "empty-archive", notELF = "not-elf", notX86 = "not-x86"
    case noNotes = "no-notes", noteStructure = "note-structure", unreadableSection = "unreadable-section"
    case abiVersion = "abi-version", foreignNote = "foreign-note", badDescriptor = "bad-descriptor", unknownType = "unknown-type"
    case noRelocation = "no-relocation", invalidSite = "invalid-site", outside, beyondSection = "beyond-section"
    case notExecutable = "not-executable", undecodable, mismatch, badPadding = "bad-padding"
    case decodeError = "decode-error", unannotated, template
    case shortSite = "short-site", duplicateSite = "duplicate-site", overlappingSite = "overlapping-site"
}

/// One message, as listed in Docs/diagnostics.md under its code.
public struct Diagnostic: Encodable, Sendable, Equatable {
    public var code: String
    public var severity: Severity
    public var message: String
}

/// The status of one site after inspection.
public enum SiteStatus: String, Encodable, Sendable {
    /// Verified: the instruction decodes as the recorded kind and length, the padding is NOPs.
    case ok
    /// Listed only (no --verify).
    case unverified
    /// The instruction decodes as something else, or with another length.
    case mismatch
    /// The padding is not the NOP padding of the site's mode.
    case badPadding = "bad-padding"
    /// The site lies in a section that is not executable (an alternatives replacement, data).
    case notExecutable = "not-executable"
    /// The site's address is in no section, or the site runs past the end of its section.
    case outside
    /// The note's fields are invalid (unknown kind, mode, lengths, flags).
    case invalid
    /// libopcodes cannot decode the bytes at the site.
    case undecodable
    /// Another note describes the same site (the later note of the two is marked).
    case duplicate
    /// The site's bytes overlap those of another site (the later one is marked).
    case overlapping

    public var isFinding: Bool { self != .ok && self != .unverified }

    /// Whether only `--verify` gives a site this status (the others come from reading the notes).
    public var comesFromVerification: Bool {
        switch self {
        case .ok, .mismatch, .badPadding, .undecodable, .duplicate, .overlapping: return true
        case .unverified, .notExecutable, .outside, .invalid: return false
        }
    }
}

public struct HeaderReport: Encodable, Sendable, Equatable {
    public var abi_version: Int
    public var machine: Int
    public var generator: String
    public var profile: String
}

public struct SiteReport: Encodable, Sendable, Equatable {
    public var note: Int
    public var note_offset: Int
    public var address: UInt64
    public var section: String?
    public var section_offset: UInt64
    public var symbol: String?
    public var offset: UInt64
    public var kind: String
    public var kind_id: Int
    public var mode: Int
    public var insn_len: Int
    public var site_len: Int
    public var flags: [String]
    public var insn: String?
    public var status: SiteStatus
    /// The runtime backends that need a longer site (a 5-byte call): empty when every backend fits.
    public var too_short_for: [String] = []
}

public struct UnannotatedReport: Encodable, Sendable, Equatable {
    public var address: UInt64
    public var section: String
    public var symbol: String?
    public var offset: UInt64
    public var insn: String
    public var kind: String
}

public struct StatsReport: Encodable, Sendable, Equatable {
    public var sites: Int
    public var by_kind: [String: Int]
    public var by_section: [String: Int]
    public var padding_bytes: Int
    public var code_bytes: UInt64
    /// Padding as a share of the executable sections' size.
    public var padding_share: Double
    public var decoded_instructions: Int?
}

/// Everything found in one object (a file, or one member of an archive).
public struct FileReport: Encodable, Sendable {
    public var path: String
    public var format: String
    public var arch: String
    public var relocatable: Bool
    public var headers: [HeaderReport] = []
    public var sites: [SiteReport] = []
    public var unannotated: [UnannotatedReport]?
    public var stats: StatsReport?
    public var diagnostics: [Diagnostic] = []

    public var worst: Severity? {
        var worst = diagnostics.map(\.severity).max()
        if sites.contains(where: { $0.status.isFinding }) || !(unannotated ?? []).isEmpty {
            worst = max(worst ?? .finding, .finding)
        }
        return worst
    }
}

/// The whole JSON document: `{"files": [...]}`.
public struct InspectionReport: Encodable, Sendable {
    public var files: [FileReport]

    /// 0 clean, 1 findings, 2 unusable input.
    public var exitStatus: Int32 {
        switch files.compactMap(\.worst).max() {
        case .unusable: return 2
        case .finding: return 1
        default: return 0
        }
    }
}
