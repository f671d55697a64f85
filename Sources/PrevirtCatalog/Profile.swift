// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: profiles choose which kinds are annotated and how much padding each site gets.

/// How many NOP bytes a site gets.
public enum Padding: Sendable, Equatable {
    /// Pad each site up to this total length (instruction plus NOPs); longer instructions get none.
    /// Five bytes is what the in-place VMM needs to put a `call rel32` at the site.
    case toSiteLength(Int)
    /// Exactly this many NOP bytes at every site (`previrt macros --pad N`).
    case exactly(Int)

    /// The padding a site whose instruction is `length` bytes long gets.
    public func bytes(forInstructionLength length: Int) -> Int {
        switch self {
        case .toSiteLength(let total): return max(0, total - length)
        case .exactly(let n): return n
        }
    }

    /// The largest padding this rule ever gives.
    public var maximum: Int {
        switch self {
        case .toSiteLength(let total): return total - 1
        case .exactly(let n): return n
        }
    }
}

/// A named choice of kinds and padding.
///
/// ```swift
/// let profile = try Profile.named("default")
/// profile.includes(Catalog.kind(named: "rdtsc")!)   // false
/// ```
public struct Profile: Sendable {
    public var name: String
    public var summary: String
    public var kindIDs: Set<UInt16>
    public var padding: Padding

    public init(name: String, summary: String, kindIDs: Set<UInt16>, padding: Padding) {
        self.name = name
        self.summary = summary
        self.kindIDs = kindIDs
        self.padding = padding
    }

    public func includes(_ kind: InstructionKind) -> Bool { kindIDs.contains(kind.id) }

    /// The kinds this profile annotates, ordered by id.
    public var kinds: [InstructionKind] { Catalog.kinds.filter(includes) }

    /// The same profile with every site padded by exactly `bytes` NOPs.
    public func padded(by bytes: Int) -> Profile {
        var copy = self
        copy.padding = .exactly(bytes)
        return copy
    }

    /// The minimum site length the in-place VMM needs: a 5-byte `call rel32`.
    public static let callSiteLength = 5

    /// The `default` profile: every kind the catalog marks default, padded to a call.
    public static let `default` = Profile(
        name: "default",
        summary: "Every kind marked default in the catalog; sites padded to a 5-byte call.",
        kindIDs: Set(Catalog.kinds.filter(\.inDefaultProfile).map(\.id)),
        padding: .toSiteLength(callSiteLength))

    /// The `all` profile: every kind of the catalog.
    public static let all = Profile(
        name: "all",
        summary: "The default kinds plus rdtsc, rdtscp, syscall, sysenter, rdpmc, xsetbv, wbnoinvd, monitor, mwait.",
        kindIDs: Set(Catalog.kinds.map(\.id)),
        padding: .toSiteLength(callSiteLength))

    /// Every built-in profile, `default` first.
    public static let builtIn: [Profile] = [.default, .all]

    /// The built-in profile with this name.
    public static func named(_ name: String) throws(CatalogError) -> Profile {
        guard let profile = builtIn.first(where: { $0.name == name }) else {
            throw .unknownProfile(name, known: builtIn.map(\.name))
        }
        return profile
    }
}

/// Errors from catalog look-ups, written for the person at the terminal.
public enum CatalogError: Error, Equatable, CustomStringConvertible {
    case unknownProfile(String, known: [String])
    case padOutOfRange(Int)

    public var description: String {
        switch self {
        case .unknownProfile(let name, let known):
            return "unknown profile '\(name)'; the profiles are: \(known.joined(separator: ", "))"
        case .padOutOfRange(let n):
            return "--pad \(n) is out of range: a site can carry 0 to \(Profile.maximumPad) bytes of padding"
        }
    }
}

extension Profile {
    /// The largest padding a site can carry: the note's site-length byte and the NOP table allow more,
    /// but no in-place VMM needs more than a 64-byte inline sequence.
    public static let maximumPad = 64
}
