// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: walk the entries of a `.note.previrt` section.

/// One entry of a `.note.previrt` section.
public struct Note: Sendable, Equatable {
    public enum Payload: Sendable, Equatable {
        case header(HeaderRecord)
        case site(SiteRecord)
        /// A well-formed note this reader does not use: a foreign owner or an unknown type.
        case unrecognized(owner: String, type: UInt32, reason: String)
    }

    /// 0-based position among the section's notes.
    public var index: Int
    /// Offset of the note (its namesz field) from the start of the section.
    public var offset: Int
    /// Offset of the descriptor from the start of the section; a site's relative field is based here.
    public var descriptorOffset: Int
    public var payload: Payload
}

/// Why a note section cannot be read; each case names the note and its offset.
public enum NoteError: Error, Equatable, CustomStringConvertible {
    case truncatedNote(index: Int, offset: Int, remaining: Int)
    case nameOutOfBounds(index: Int, offset: Int, namesz: UInt32)
    case descriptorOutOfBounds(index: Int, offset: Int, descsz: UInt32)
    case badDescriptorSize(type: UInt32, size: Int, expected: Int)

    public var description: String {
        switch self {
        case .truncatedNote(let i, let o, let r):
            return "note \(i) at offset \(o): only \(r) bytes left, a note header needs 12"
        case .nameOutOfBounds(let i, let o, let n):
            return "note \(i) at offset \(o): namesz \(n) runs past the end of the section"
        case .descriptorOutOfBounds(let i, let o, let n):
            return "note \(i) at offset \(o): descsz \(n) runs past the end of the section"
        case .badDescriptorSize(let t, let s, let e):
            return "note type 0x\(String(t, radix: 16)) has a \(s)-byte descriptor, expected \(e)"
        }
    }
}

extension Note {
    /// Parses every note of a section's contents.
    ///
    /// Structural damage (a size that runs past the end) stops the walk and throws, because nothing after
    /// it can be located. A wrong owner, an unknown type or a short descriptor only makes that one entry
    /// `.unrecognized`, and the walk goes on.
    public static func parseSection(_ bytes: [UInt8]) throws(NoteError) -> [Note] {
        var notes: [Note] = []
        var offset = 0
        let slice = bytes[...]
        while offset < bytes.count {
            let index = notes.count
            let remaining = bytes.count - offset
            guard remaining >= NoteABI.noteHeaderSize else {
                // Alignment padding at the very end (all zero) is not a note.
                if slice[offset...].allSatisfy({ $0 == 0 }) { break }
                throw .truncatedNote(index: index, offset: offset, remaining: remaining)
            }
            let namesz = slice.littleEndianUInt32(at: offset)
            let descsz = slice.littleEndianUInt32(at: offset + 4)
            let type = slice.littleEndianUInt32(at: offset + 8)
            let nameStart = offset + NoteABI.noteHeaderSize
            guard UInt64(namesz) <= UInt64(bytes.count - nameStart) else {
                throw .nameOutOfBounds(index: index, offset: offset, namesz: namesz)
            }
            let descStart = nameStart + align4(Int(namesz))
            guard descStart <= bytes.count, UInt64(descsz) <= UInt64(bytes.count - descStart) else {
                throw .descriptorOutOfBounds(index: index, offset: offset, descsz: descsz)
            }
            let owner = slice.field(at: nameStart, width: Int(namesz))
            let descriptor = slice[descStart..<(descStart + Int(descsz))]
            let payload = decodePayload(owner: owner, namesz: namesz, type: type, descriptor: descriptor)
            notes.append(Note(index: index, offset: offset, descriptorOffset: descStart, payload: payload))
            offset = min(bytes.count, descStart + align4(Int(descsz)))
        }
        return notes
    }

    private static func decodePayload(owner: String, namesz: UInt32, type: UInt32, descriptor: ArraySlice<UInt8>) -> Payload {
        guard owner == NoteABI.owner, namesz == UInt32(NoteABI.ownerSize) else {
            return .unrecognized(owner: owner, type: type, reason: "owner is '\(owner)' (namesz \(namesz)), not 'PreVirt'")
        }
        do {
            switch type {
            case NoteABI.headerType: return .header(try HeaderRecord(decoding: descriptor))
            case NoteABI.siteType: return .site(try SiteRecord(decoding: descriptor))
            default: return .unrecognized(owner: owner, type: type, reason: "unknown note type 0x\(String(type, radix: 16))")
            }
        } catch {
            return .unrecognized(owner: owner, type: type, reason: error.description)
        }
    }

    /// The whole note as it is laid out in the section: header, owner, descriptor.
    public static func encode(type: UInt32, descriptor: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        out.appendLittleEndian(UInt32(NoteABI.ownerSize))
        out.appendLittleEndian(UInt32(descriptor.count))
        out.appendLittleEndian(type)
        out.appendField(NoteABI.owner, width: NoteABI.ownerSize)
        out += descriptor
        out += repeatElement(0, count: align4(descriptor.count) - descriptor.count)
        return out
    }
}

@inline(__always) func align4(_ n: Int) -> Int { (n + 3) & ~3 }
