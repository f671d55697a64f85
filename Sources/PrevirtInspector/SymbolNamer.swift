// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: name addresses symbol+offset, and find where objdump would restart decoding.

import PrevirtBinutils

/// Names an offset within a section by the nearest symbol at or before it.
struct SymbolNamer {
    /// Per section index: (section offset, name), sorted by offset.
    private var table: [Int: [(offset: UInt64, name: String)]] = [:]

    init(object: ObjectFile) {
        let symbols = (try? object.symbols()) ?? []
        for s in symbols where !s.isSectionSymbol && !s.isDebugging && !s.name.isEmpty {
            guard let index = s.section, let section = object.sections.first(where: { $0.index == index }) else { continue }
            let offset = object.isRelocatable ? s.value : s.value &- section.address
            guard offset <= section.size else { continue }
            table[index, default: []].append((offset, s.name))
        }
        for key in table.keys {
            // Prefer a global name over a local one at the same offset, as objdump does.
            table[key]!.sort { $0.offset < $1.offset }
        }
    }

    func name(section: Int, offset: UInt64) -> (symbol: String, offset: UInt64)? {
        guard let list = table[section], !list.isEmpty else { return nil }
        var low = 0
        var high = list.count
        while low < high {
            let mid = (low + high) / 2
            if list[mid].offset <= offset { low = mid + 1 } else { high = mid }
        }
        guard low > 0 else { return nil }
        let best = list[low - 1]
        return (best.name, offset - best.offset)
    }

    /// Offsets at which a linear sweep restarts: the section start and every symbol, as `objdump -d` does.
    func starts(in section: Int, size: UInt64) -> [Int] {
        var result = [0]
        for entry in table[section] ?? [] where entry.offset < size && Int(entry.offset) != result.last {
            if Int(entry.offset) > result.last! { result.append(Int(entry.offset)) }
        }
        return result
    }
}
