// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the constants of note ABI version 1 (see Docs/note-format.md).

/// Constants of the `.note.previrt` format, version 1.
public enum NoteABI {
    public static let version: UInt16 = 1
    public static let sectionName = ".note.previrt"
    /// The note owner, NUL included: namesz is 8.
    public static let owner = "PreVirt"
    public static let ownerSize = 8
    /// Note type of the per-file header note ("PV" then 1).
    public static let headerType: UInt32 = 0x5056_0001
    /// Note type of a site note ("PV" then 2).
    public static let siteType: UInt32 = 0x5056_0002
    public static let headerDescriptorSize = 40
    public static let siteDescriptorSize = 12
    /// Size of the fixed part of every note: namesz, descsz, type.
    public static let noteHeaderSize = 12
    /// Width of the generator and profile fields of the header descriptor, NUL padded.
    public static let nameFieldSize = 16
    /// The version string the generator writes into header notes.
    public static let generatorVersion = "previrt 0.1.0"

    /// e_machine values the header may name.
    public static let machineI386: UInt16 = 3
    public static let machineX86_64: UInt16 = 62
}
