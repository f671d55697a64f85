// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the macros that record one site: __pv_header, __pv_mode, __pv_nops and __pv_site
// (Docs/macro-sets.md, "How it works"; the note layout is Docs/note-format.md).

import PrevirtCatalog
import PrevirtNote

extension GNUAsMacroSet {
    /// `__pv_site INSN`: emit one site. The caller sets `.L__pv_v` = kind id | flags << 16.
    func siteMachinery(_ o: inout GeneratedText) {
        o.line(headerNote)
        o.line(modeProbe)
        o.line(nops)
        o.line(siteBody)
    }

    /// The per-file header note.
    private var headerNote: String {
        let header = HeaderRecord(machine: architecture.machine, profile: profile.name)
        return #"""
            # The per-file header note, emitted before the first site (a file without sites is unchanged).
            .macro __pv_header
            .set .L__pv_hdr, 1
            .pushsection \#(NoteABI.sectionName),"a",@note
            .balign 4
            .long \#(NoteABI.ownerSize), \#(NoteABI.headerDescriptorSize), 0x\#(String(NoteABI.headerType, radix: 16))
            .asciz "\#(NoteABI.owner)"
            .short \#(header.abiVersion), \#(header.machine), \#(header.siteDescriptorSize), 0
            .ascii "\#(paddedField(header.generator))"
            .ascii "\#(paddedField(header.profile))"
            .popsection
            .endm

            """#
    }

    /// `__pv_mode`: sets `.L__pv_m` to 16, 32 or 64.
    private var modeProbe: String {
        let (p, q, r) = (SiteLabel.p.in(flavor), SiteLabel.q.in(flavor), SiteLabel.r.in(flavor))
        return #"""
            # The code mode in force, measured in either syntax: `cbw` is 1 byte in 16-bit code and 2
            # otherwise; `jecxz` is 2 bytes in 32-bit code and 3 otherwise. The probe goes to an SHF_EXCLUDE
            # section, which the linker drops.
            .macro __pv_mode
            .pushsection .discard.previrt_probe,"e",@progbits
            \#(p.definition) cbw
            \#(q.definition) jecxz \#(r.forward)
            \#(r.definition)
            .popsection
            .set .L__pv_k, (\#(q)-\#(p))*4+(\#(r)-\#(q))
            .set .L__pv_m, -((.L__pv_k==7)*16+(.L__pv_k==10)*32+(.L__pv_k==11)*64)
            .endm

            """#
    }

    /// `__pv_nops N`: the NOP padding of note-format.md.
    private var nops: String {
        let remainders = (1...7).map { n in
            #"""
            .if ((\n) & 7) == \#(n)
            .byte \#(NopTable.bytes(n).hexList)
            .endif
            """#
        }.joined(separator: "\n")
        return #"""
            # \n bytes of NOPs for the mode in .L__pv_m. Explicit bytes, because gas 2.40's .nops picks its
            # encoding from the mode at the END of the file. 16-bit code gets 66 90 / 90 only.
            .macro __pv_nops n
            .if .L__pv_m == 16
            .rept (\n) >> 1
            .byte 0x66,0x90
            .endr
            .if (\n) & 1
            .byte 0x90
            .endif
            .else
            .rept (\n) >> 3
            .byte \#(NopTable.bytes(8).hexList)
            .endr
            \#(remainders)
            .endif
            .endm

            """#
    }

    /// `__pv_site INSN`: [instruction][NOPs] or [NOPs][instruction], then the site note.
    private var siteBody: String {
        let (x, y, b, i, j, e) = (
            SiteLabel.x.in(flavor), SiteLabel.y.in(flavor), SiteLabel.b.in(flavor),
            SiteLabel.i.in(flavor), SiteLabel.j.in(flavor), SiteLabel.e.in(flavor)
        )
        let flagShift = Self.flagShift, kindMask = Self.kindMask
        let prefixMayPrecede = SiteFlags.prefixMayPrecede.rawValue
        // Set on an ins/outs site when the statement before it was a bare prefix (`rep; insb`).
        let afterBarePrefix = #"""
            (\#(prefixMayPrecede) * ((\@ - .L__pv_pfx) == 2) * (((.L__pv_v & \#(kindMask)) == \#(kindID("ins"))) | ((.L__pv_v & \#(kindMask)) == \#(kindID("outs")))))
            """#
        let start = #"""
            # One site: [instruction][NOPs], or [NOPs][instruction] for kinds with an interrupt shadow;
            # then its note. \insn is the whole statement, written by the caller so that it is the
            # real instruction, not this macro again.
            .macro __pv_site insn:vararg
            .if .L__pv_depth
            \#(here)\insn
            .else
            .ifndef .L__pv_hdr
            __pv_header
            .endif
            __pv_mode
            .set .L__pv_f, (.L__pv_v >> \#(flagShift)) | \#(afterBarePrefix)
            .if .L__pv_f & \#(SiteFlags.paddingPrecedes.rawValue)
            .pushsection .discard.previrt_probe,"e",@progbits
            \#(here)\#(x.definition) \insn
            \#(y.definition)
            .popsection
            \#(b.definition)
            __pv_nops \#(padding(length: "\(y)-\(x)"))
            \#(here)\#(i.definition) \insn
            \#(j.definition)
            \#(e.definition)
            .else
            \#(b.definition)
            \#(here)\#(i.definition) \insn
            \#(j.definition)
            __pv_nops \#(padding(length: "\(j)-\(i)"))
            \#(e.definition)
            .endif
            """#
        // objtool (CONFIG_X86_KERNEL_IBT): the site's instruction is not an indirect-branch target.
        let noEndbr = #"""
            .if .L__pv_m == 64
            .pushsection .discard.noendbr
            .quad \#(i)
            .popsection
            .endif
            """#
        let note = #"""
            .pushsection \#(NoteABI.sectionName),"a",@note
            .balign 4
            .long \#(NoteABI.ownerSize), \#(NoteABI.siteDescriptorSize), 0x\#(String(NoteABI.siteType, radix: 16))
            .asciz "\#(NoteABI.owner)"
            .long \#(b) - .
            .short .L__pv_v & \#(kindMask)
            .byte \#(j)-\#(i), \#(e)-\#(b), .L__pv_m, .L__pv_f
            .short 0
            .popsection
            .endif
            .endm

            """#
        return ([start] + (objtoolNoEndbr ? [noEndbr] : []) + [note]).joined(separator: "\n")
    }

    /// The NOP count for an instruction of `length` bytes (a gas expression), from the profile.
    private func padding(length: String) -> String {
        switch profile.padding {
        case .exactly(let n): "\(n)"
        case .toSiteLength(let total): "((\(total)-(\(length)))*-((\(total)-(\(length)))>0))"
        }
    }

    /// A NUL-padded 16-byte field for `.ascii`.
    private func paddedField(_ text: String) -> String {
        let bytes = Array(text.utf8.prefix(NoteABI.nameFieldSize - 1))
        return String(decoding: bytes, as: UTF8.self) + String(repeating: "\\0", count: NoteABI.nameFieldSize - bytes.count)
    }
}

/// A local label of the site machinery, as the flavour writes it.
///
/// GNU as: `.L__pv_b\@`, unique per macro invocation. LLVM restarts `\@` for every inline-asm
/// statement, so `.L__pv_b\@` would be defined twice in a C file: the LLVM flavour uses numeric local
/// labels 98701-98709 instead (reserved: kernel code uses 1:, 661: and the like). Each definition is
/// followed by backward references only, except the mode probe's forward jump.
enum SiteLabel: Int {
    // The order gives the LLVM numbers: p is 98701, e is 98709.
    case p, q, r, x, y, b, i, j, e

    func `in`(_ flavor: GNUAsMacroSet.Flavor) -> Spelled { Spelled(label: self, flavor: flavor) }

    /// The case's name, written out: interpolating the case itself would find it by reflection (`Mirror`),
    /// which costs previrt-as about 1 M instructions at every run that writes a site in place.
    var name: String {
        switch self {
        case .p: "p"
        case .q: "q"
        case .r: "r"
        case .x: "x"
        case .y: "y"
        case .b: "b"
        case .i: "i"
        case .j: "j"
        case .e: "e"
        }
    }

    /// The label as one flavour writes it; interpolated, a backward reference.
    struct Spelled: CustomStringConvertible {
        var label: SiteLabel
        var flavor: GNUAsMacroSet.Flavor

        private var number: Int { 98701 + label.rawValue }
        /// `.L__pv_b\@:` or `98706:`.
        var definition: String { flavor == .gnu ? description + ":" : "\(number):" }
        /// A reference to the definition before it.
        var description: String { flavor == .gnu ? ".L__pv_" + label.name + #"\@"# : "\(number)b" }
        /// A reference to the definition after it.
        var forward: String { flavor == .gnu ? description : "\(number)f" }
    }
}
