// SPDX-License-Identifier: GPL-3.0-or-later
// The xen backend's checking and patching, called from Swift on assembled x86_64 code (no Xen needed:
// nothing patched here runs): what it refuses, by name, with nothing written, and the stubs it writes.

import Foundation
#if canImport(Glibc)
import Glibc
#endif
import PrevirtCatalog
import PrevirtRuntime
import Testing

@Suite("xen backend: checks and stubs", .serialized)
struct XenBackendTests {
    struct Outcome {
        var status: Int32
        var result: previrt_result
        var why: String
        var memory: [UInt8]
        var stubs: [UInt8]
        var stubBase: UInt
        var sharedInfo: UInt
        var patched: [UInt]
    }

    /// Patches a copy of `image` with the xen backend. The copy, the stub area and the shared info page
    /// share one mapping placed near the runtime's code, as a guest's would be (the backend checks that
    /// its stubs, its entry, the upcall mask and the hypercall page are within rel32 of each site).
    static func patch(_ image: RuntimeTests.Image) throws -> Outcome {
        let entry: @convention(c) (UnsafeMutablePointer<previrt_backend>?, UnsafeMutablePointer<previrt_xen>?) -> Void = previrt_xen_backend
        let code = unsafeBitCast(entry, to: UInt.self)
        let size = 4 * 4096 + (image.memory.count + 4095) / 4096 * 4096
        var near: UnsafeMutableRawPointer?
        for step in 1...64 where near == nil { // the first free hint 256 MiB + step * 16 MiB above the code
            let hint = UnsafeMutableRawPointer(bitPattern: (code & ~0xfff) + 0x1000_0000 + UInt(step) * 0x100_0000)
            guard let m = mmap(hint, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), m != MAP_FAILED else { continue }
            if abs(Int(bitPattern: UInt(bitPattern: m)) - Int(bitPattern: code)) < 0x4000_0000 { near = m } else { munmap(m, size) }
        }
        let mapping = try #require(near, "no mapping near the runtime's code")
        defer { munmap(mapping, size) }
        let stubs = mapping.assumingMemoryBound(to: UInt8.self), shared = stubs + 2 * 4096, memory = stubs + 4 * 4096
        memory.update(from: image.memory, count: image.memory.count)
        let sites = UnsafeMutablePointer<previrt_xen_site>.allocate(capacity: 64)
        defer { sites.deallocate() }
        let t = memory + Int(image.text.address - image.base), n = memory + Int(image.notes.address - image.base)
        var xen = previrt_xen()
        xen.shared_info = shared
        xen.hypercall_page = shared + 4096 // iretq's stub jumps to HYPERVISOR_iret's entry there
        xen.stubs = stubs
        xen.stub_size = 2 * 4096
        xen.sites = sites
        xen.max_sites = 64
        xen.text_end = UnsafePointer(t + Int(image.text.size))
        var backend = previrt_backend()
        previrt_xen_backend(&backend, &xen)
        var region = previrt_image(notes_begin: UnsafeRawPointer(n), notes_end: UnsafeRawPointer(n + Int(image.notes.size)),
                                   text_begin: t, text_end: t + Int(image.text.size))
        var result = previrt_result()
        let status = previrt_patch(&region, &backend, &result)
        let patched = withUnsafeBytes(of: xen.patched) { Array($0.bindMemory(to: UInt.self)) }
        return Outcome(status: status, result: result, why: result.why.map { String(cString: $0) } ?? "",
                       memory: Array(UnsafeBufferPointer(start: memory, count: image.memory.count)),
                       stubs: Array(UnsafeBufferPointer(start: stubs, count: Int(xen.stub_used))),
                       stubBase: UInt(bitPattern: stubs), sharedInfo: UInt(bitPattern: shared), patched: patched)
    }

    static func rel32(_ bytes: [UInt8], at i: Int) -> Int {
        Int(Int32(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24))
    }

    @Test("a form it does not model is refused by name after a supported site, and nothing is written", arguments: [
        ("mov %cr4,%rax", "mov-from-cr of a control register other than cr0 and cr3 is not supported by the xen backend"),
        ("pushfw", "pushf with a 16-bit operand is not supported by the xen backend"),
        ("iretl", "iret without REX.W (not iretq or lretq) is not supported by the xen backend"),
        ("lret", "lret without REX.W (not iretq or lretq) is not supported by the xen backend"),
        ("lar %ax,%ecx", "lar is not supported by the xen backend"),
        ("swapgs", "swapgs is not supported by the xen backend"),
        ("lcall *(%rax)", "lcall is not supported by the xen backend"),
        ("lfsw 8(%rax),%bx", "lfs with a 16-bit operand is not supported by the xen backend"),
        ("lss (%rax),%esp", "lss into %rsp is not supported by the xen backend"),
        ("mov %cr3,%rsp", "mov-from-cr into %rsp is not supported by the xen backend"),
        ("movw %ax,%cs", "mov-to-seg of cs (an invalid instruction) is not supported by the xen backend"),
        ("pushw %fs", "push-seg with a 16-bit operand is not supported by the xen backend"),
        ("invlpg %fs:(%rax)", "invlpg with an fs or gs override is not supported by the xen backend"),
        ("sldt %fs:(%rax)", "sldt with an fs or gs override is not supported by the xen backend"),
    ])
    func refused(_ statement: String, _ why: String) throws {
        let image = try RuntimeTests.Image("cli\n\(statement)\n", arch: .x86_64)
        let before = image.memory
        let outcome = try Self.patch(image)
        #expect(outcome.status != 0)
        #expect(outcome.result.failure == PREVIRT_REFUSED)
        #expect(outcome.result.failed_note == 2)
        #expect(outcome.why == why)
        let unchanged = outcome.memory == before
        #expect(unchanged, "the image was written to")
        #expect(outcome.stubs.isEmpty)
    }

    @Test("supported sites become jumps to their stubs: cli a store to the upcall mask, cpuid Xen's prefix, sti before hlt nothing")
    func stubs() throws {
        let image = try RuntimeTests.Image("cli\ncpuid\nsti\nhlt\nmov %cr3,%rax\n", arch: .x86_64)
        let outcome = try Self.patch(image)
        try #require(outcome.status == 0 && outcome.result.patched == 5 && outcome.result.native == 0, "\(outcome.why)")
        // Each site (5 bytes) is `jmp rel32` to its stub: the stubs lie one after the other.
        let text = Int(image.text.address - image.base), copy = Int(outcome.stubBase) + 4 * 4096
        let stubOffsets = (0..<5).map { site -> Int in
            let at = text + 5 * site
            return copy + at + 5 + Self.rel32(outcome.memory, at: at + 1) - Int(outcome.stubBase)
        }
        #expect((0..<5).allSatisfy { outcome.memory[text + 5 * $0] == 0xe9 })
        #expect(stubOffsets == [0, 12, 24, 29, 57], "\(stubOffsets)")
        let stub = outcome.stubs
        try #require(stub.count >= 40)
        // cli: movb $1, evtchn_upcall_mask(%rip) (shared info + 1), then jmp back.
        #expect(Array(stub[0..<2]) == [0xc6, 0x05] && stub[6] == 1)
        #expect(Int(outcome.stubBase) + 7 + Self.rel32(stub, at: 2) == Int(outcome.sharedInfo) + 1)
        #expect(stub[7] == 0xe9)
        // cpuid: ud2; .ascii "xen"; cpuid, then jmp back.
        #expect(Array(stub[12..<19]) == [0x0f, 0x0b, 0x78, 0x65, 0x6e, 0x0f, 0xa2] && stub[19] == 0xe9)
        // sti directly before hlt: only the jump back to its site's end, the hlt's site.
        #expect(stub[24] == 0xe9 && 24 + 5 + Self.rel32(stub, at: 25) == copy + text + 15 - Int(outcome.stubBase))
        // hlt: the generic entry: lea -128(%rsp),%rsp; push $3 (its index); call previrt_xen_entry.
        #expect(Array(stub[29..<39]) == [0x48, 0x8d, 0x64, 0x24, 0x80, 0x68, 3, 0, 0, 0] && stub[39] == 0xe8)
        #expect(outcome.patched[Int(PREVIRT_KIND_CLI)] == 1 && outcome.patched[Int(PREVIRT_KIND_HLT)] == 1
            && outcome.patched[Int(PREVIRT_KIND_MOV_FROM_CR)] == 1)
    }

    @Test("every 64-bit sample of the catalog is accepted or refused by name; each kind it accepts, the x86_64 guest exercises")
    func coverage() throws {
        var accepted = Set<String>()
        for sample in CatalogSample.all where sample.mode == .bits64 && Catalog.kind(named: sample.kind)?.inDefaultProfile == true {
            let image = try RuntimeTests.Image(".text\n\(sample.statement)\n", arch: .x86_64)
            let outcome = try Self.patch(image)
            if outcome.status == 0 {
                accepted.insert(sample.kind)
            } else {
                #expect(outcome.result.failure == PREVIRT_REFUSED && outcome.why.hasPrefix("\(sample.kind) ")
                        && outcome.why.hasSuffix("not supported by the xen backend"), "\(sample.statement): \(outcome.why)")
            }
        }
        let notExercised = accepted.subtracting(Guest64.exercisedKinds), neverAccepted = Set(Guest64.exercisedKinds).subtracting(accepted)
        #expect(notExercised.isEmpty && neverAccepted.isEmpty, "accepted, not exercised: \(notExercised); exercised, never accepted: \(neverAccepted)")
    }

    @Test("sti's stub clears the upcall mask and calls the entry only when the pending flag is set, testing it without flags")
    func sti() throws {
        let image = try RuntimeTests.Image("sti\nnop\n", arch: .x86_64)
        let outcome = try Self.patch(image)
        try #require(outcome.status == 0 && outcome.result.patched == 1, "\(outcome.why)")
        let stub = outcome.stubs, base = Int(outcome.stubBase), shared = Int(outcome.sharedInfo)
        try #require(stub.count > 30)
        #expect(Array(stub[0..<8]) == [0x48, 0x8d, 0x64, 0x24, 0x80, 0x51, 0xc6, 0x05])   // lea -128(%rsp); push %rcx; movb
        #expect(base + 13 + Self.rel32(stub, at: 8) == shared + 1 && stub[12] == 0)        // $0, upcall mask(%rip)
        #expect(Array(stub[13..<16]) == [0x0f, 0xb6, 0x0d] && base + 20 + Self.rel32(stub, at: 16) == shared) // movzbl pending(%rip),%ecx
        #expect(stub[20] == 0xe3)                                                           // jrcxz: no event pending
        let skip = 22 + Int(stub[21])
        #expect(Array(stub[skip..<(skip + 9)]) == [0x59, 0x48, 0x8d, 0xa4, 0x24, 0x80, 0, 0, 0])  // pop %rcx; lea 128(%rsp)
        #expect(stub[31] == 0x48 && stub[36] == 0x68 && stub[41] == 0xe8)                   // else: the entry call
        #expect(stub.count == skip + 9 + 5 && stub[skip + 9] == 0xe9)                       // jmp back
    }
}
