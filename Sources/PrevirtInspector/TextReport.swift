// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the human-readable form of an inspection report.

extension InspectionReport {
    /// The listing for a terminal: per file, its headers, a table of sites, unannotated instructions, stats.
    public var text: String {
        var out = ""
        for file in files where !file.format.isEmpty {
            out += "\(file.path): \(file.format), \(file.arch)\(file.relocatable ? ", relocatable" : "")\n"
            for h in file.headers {
                out += "  header: ABI v\(h.abi_version), e_machine \(h.machine), generator '\(h.generator)', profile '\(h.profile)'\n"
            }
            if !file.sites.isEmpty {
                out += "  " + row(["address", "section+offset", "symbol+offset", "kind", "insn", "site", "mode", "status", "instruction"]) + "\n"
                for s in file.sites {
                    let place = s.section.map { "\($0)+0x\(hex(s.section_offset))" } ?? "-"
                    let symbol = s.symbol.map { "\($0)+0x\(hex(s.offset))" } ?? "-"
                    let flags = s.flags.isEmpty ? "" : " [\(s.flags.joined(separator: ","))]"
                    let short = s.too_short_for.isEmpty ? "" : " [too short for \(s.too_short_for.joined(separator: ","))]"
                    out += "  " + row(["0x" + hex(s.address), place, symbol, s.kind, "\(s.insn_len)", "\(s.site_len)", "\(s.mode)", s.status.rawValue, (s.insn ?? "") + flags + short]) + "\n"
                }
            }
            if let unannotated = file.unannotated {
                out += "  \(unannotated.count) unannotated sensitive instruction\(unannotated.count == 1 ? "" : "s")\n"
                for u in unannotated {
                    let symbol = u.symbol.map { "\($0)+0x\(hex(u.offset))" } ?? "\(u.section)+0x\(hex(u.offset))"
                    out += "  " + row(["0x" + hex(u.address), u.section, symbol, u.kind, u.insn]) + "\n"
                }
            }
            if let st = file.stats {
                out += "  stats: \(st.sites) sites, \(st.padding_bytes) bytes of padding in \(st.code_bytes) bytes of code ("
                    + percent(st.padding_share) + ")" + (st.decoded_instructions.map { ", \($0) instructions decoded" } ?? "") + "\n"
                out += "    by kind: " + st.by_kind.sorted { $0.value > $1.value || ($0.value == $1.value && $0.key < $1.key) }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
                out += "    by section: " + st.by_section.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + "\n"
            }
            let failing = file.sites.filter { $0.status.isFinding }.count
            let ok = file.sites.filter { $0.status == .ok }.count
            var summary = "  \(file.sites.count) site\(file.sites.count == 1 ? "" : "s")"
            if file.sites.contains(where: \.status.comesFromVerification) {
                summary += ": \(ok) verified, \(failing) failing"
            } else if failing > 0 {
                summary += " (not verified): \(failing) with findings"   // found by reading the notes alone
            }
            let short = file.sites.filter { !$0.too_short_for.isEmpty }.count
            if short > 0 { summary += "; \(short) too short for a backend" }
            if let u = file.unannotated { summary += "; \(u.count) unannotated" }
            out += summary + "\n"
        }
        return out
    }

    /// Every diagnostic, one per line, for standard error.
    public var diagnosticsText: String {
        files.flatMap(\.diagnostics).map { "\($0.severity == .note ? "note" : $0.severity == .finding ? "finding" : "error"): \($0.message) [\($0.code)]\n" }.joined()
    }

    private func row(_ cells: [String]) -> String {
        let widths = [18, 22, 30, 13, 4, 4, 4, 10, 0]
        return zip(cells, widths).map { cell, width in cell + String(repeating: " ", count: max(1, width - cell.count + 1)) }.joined().trimmingTrailingBlanks
    }

    private func percent(_ share: Double) -> String {
        let basisPoints = Int((share * 10000).rounded())
        return "\(basisPoints / 100).\(basisPoints % 100 < 10 ? "0" : "")\(basisPoints % 100)%"
    }
}

extension String {
    var trimmingTrailingBlanks: String {
        var s = self
        while s.last == " " { s.removeLast() }
        return s
    }
}
