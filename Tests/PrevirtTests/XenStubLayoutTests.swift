// SPDX-License-Identifier: GPL-3.0-or-later
// The xen backend's stubs for control transfers, byte by byte (no Xen needed: nothing patched here
// runs). Their handlers (xen_emulate.c) find a second way on, or the slots they fill, at fixed
// distances from the entry call's return address: these tests hold the stubs to those distances, and
// iretq's second way to HYPERVISOR_iret's entry in the hypercall page.

import Foundation
import PrevirtRuntime
import Testing

@Suite("xen backend: stubs of iretq, lretq, int, ljmp, push and pop of a segment register")
struct XenStubLayoutTests {
    /// Where the generic entry call's return address lies in a stub that starts with it
    /// (lea -128(%rsp),%rsp; push $index; call previrt_xen_entry).
    static let returnAddress = 15
    static let skipRedZone: [UInt8] = [0x48, 0x8d, 0x64, 0x24, 0x80]
    static let backOverRedZone: [UInt8] = [0x48, 0x8d, 0xa4, 0x24, 0x88, 0, 0, 0]

    static func stub(_ statement: String) throws -> XenBackendTests.Outcome {
        let outcome = try XenBackendTests.patch(try RuntimeTests.Image(".text\n\(statement)\n", arch: .x86_64))
        try #require(outcome.status == 0 && outcome.result.patched == 1, "\(statement): \(outcome.why)")
        return outcome
    }

    @Test("iretq: the entry, iretq natively, then (8 + 2 bytes past the return address) lea 136; push $0; jmp HYPERVISOR_iret")
    func iretq() throws {
        let o = try Self.stub("iretq")
        let s = o.stubs
        try #require(s.count == 40, "\(s)")
        #expect(Array(s[0..<5]) == Self.skipRedZone && s[10] == 0xe8)
        #expect(Array(s[15..<23]) == Self.backOverRedZone && Array(s[23..<25]) == [0x48, 0xcf])
        // The handler's second way on: return address + 8 + the instruction's length.
        #expect(Array(s[(Self.returnAddress + 8 + 2)..<33]) == Self.backOverRedZone)
        #expect(Array(s[33..<35]) == [0x6a, 0x00] && s[35] == 0xe9)
        let hypercallPage = Int(o.sharedInfo) + 4096 // as XenBackendTests.patch places it
        #expect(Int(o.stubBase) + 40 + XenBackendTests.rel32(s, at: 36) == hypercallPage + 23 * 32) // __HYPERVISOR_iret
    }

    @Test("lretq: the entry, lretq natively, then mov slot(%rip),%rsp; jmp *slot(%rip) with the slots 13 bytes on")
    func lretq() throws {
        let s = try Self.stub("lretq $16").stubs
        try #require(s.count == 23 + 4 + 13 + 16, "\(s)")
        #expect(Array(s[23..<27]) == [0x48, 0xca, 0x10, 0x00])
        let way = Self.returnAddress + 8 + 4 // past lea 136 and the 4-byte lretq
        #expect(Array(s[way..<(way + 13)]) == [0x48, 0x8b, 0x25, 6, 0, 0, 0, 0xff, 0x25, 8, 0, 0, 0])
        #expect(way + 7 + 6 == way + 13 && way + 13 + 8 + 8 == s.count) // mov reads slot 0, jmp slot 1
    }

    @Test("int $n: the entry, then mov slot(%rip),%rsp; jmp *slot(%rip), the slots 8 + 13 bytes past the return address")
    func softwareInterrupt() throws {
        let s = try Self.stub("int $0x81").stubs
        try #require(s.count == 23 + 13 + 16, "\(s)")
        #expect(Array(s[15..<23]) == Self.backOverRedZone)
        #expect(Array(s[23..<36]) == [0x48, 0x8b, 0x25, 6, 0, 0, 0, 0xff, 0x25, 8, 0, 0, 0])
        #expect(Self.returnAddress + 8 + 13 == 36 && s[36...].allSatisfy { $0 == 0 })
    }

    @Test("ljmp *(%rax): the entry, then jmp *0(%rip), its slot 8 + 6 bytes past the return address")
    func farJump() throws {
        let s = try Self.stub("ljmp *(%rax)").stubs
        try #require(s.count == 23 + 6 + 8, "\(s)")
        #expect(Array(s[23..<29]) == [0xff, 0x25, 0, 0, 0, 0] && Self.returnAddress + 8 + 6 == 29)
    }

    @Test("push %fs runs natively before the entry; pop %gs's stub steps over the slot after it")
    func pushPop() throws {
        let push = try Self.stub("push %fs").stubs
        #expect(Array(push[0..<2]) == [0x0f, 0xa0] && Array(push[2..<7]) == Self.skipRedZone)
        let pop = try Self.stub("pop %gs").stubs
        #expect(Array(pop[0..<5]) == Self.skipRedZone && Array(pop[23..<28]) == [0x48, 0x8d, 0x64, 0x24, 0x08] && pop[28] == 0xe9)
    }
}
