// SPDX-License-Identifier: GPL-3.0-or-later
// The system calls the linux-user VMM's MMU, timer and user mode need are allowed by its seccomp filter
// only with the arguments the VMM itself uses: a guest that flips the dispatch selector and makes them
// with other arguments (the VMM's own region, another descriptor, another timer) is stopped.

import Foundation
import Testing

@Suite("linux-user VMM: the MMU's and the timer's system calls are allowed only with the VMM's arguments", .serialized)
struct LinuxOnLinuxContainmentTests {
    /// (what, the i386 system call number, the registers before int $0x80)
    static let calls: [(what: String, number: Int, setup: String)] = [
        ("munmap of the VMM's image", 91, "mov $0xe8000000, %ebx\nmov $0x1000, %ecx"),
        ("munmap of the window on guest RAM", 91, "mov $0xed000000, %ebx\nmov $0x1000, %ecx"),
        ("mmap2 of guest RAM over the VMM's region", 192,
         "mov $0xf0000000, %ebx\nmov $0x1000, %ecx\nmov $3, %edx\nmov $0x11, %esi\nmov $3, %edi\nxor %ebp, %ebp"),
        ("mmap2 of another descriptor (standard input)", 192,
         "mov $0x40000000, %ebx\nmov $0x1000, %ecx\nmov $3, %edx\nmov $0x11, %esi\nxor %edi, %edi\nxor %ebp, %ebp"),
        ("mprotect", 125, "mov $0xe8000000, %ebx\nmov $0x1000, %ecx\nmov $7, %edx"),
        ("timer_settime of another timer", 260, "mov $77, %ebx\nxor %ecx, %ecx\nxor %edx, %edx\nxor %esi, %esi"),
        ("modify_ldt with the old write function", 123, "mov $1, %ebx\nxor %ecx, %ecx\nmov $16, %edx"),
        ("rt_sigprocmask (blocking the timeout's SIGALRM)", 175, "xor %ebx, %ebx\nxor %ecx, %ecx\nxor %edx, %edx\nmov $8, %esi"),
    ]

    @Test("each call with arguments the VMM never uses: exit 2, the call named", arguments: 0..<calls.count)
    func stopped(_ index: Int) throws {
        let (what, number, setup) = Self.calls[index]
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let selector = try #require(try HostileGuest.vmmSymbols()["vmm_selector"])
        let guest = try HostileGuest.escaping(number, setup: setup, selector: selector, in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.status == 2, "\(what): \(r.output)")
        #expect(r.output == guest.seccompVerdict(number), "\(what)")
    }

    @Test("the control: the same mmap2 of guest RAM (descriptor 3) at a guest address is allowed, and the guest goes on")
    func allowed() throws {
        let dir = try Toolchain.scratch()
        defer { try? FileManager.default.removeItem(at: dir) }
        let selector = try #require(try HostileGuest.vmmSymbols()["vmm_selector"])
        let guest = try HostileGuest.build("""
                movb $0, \(selector)
                mov $0x40000000, %ebx
                mov $0x1000, %ecx
                mov $3, %edx
                mov $0x11, %esi
                mov $3, %edi
                xor %ebp, %ebp
                mov $192, %eax
                .byte 0xcd, 0x80
                cmp $0x40000000, %eax
                jne 1f
                movb $1, \(selector)
                mov $0x10, %al
                out %al, $0xf4
            1:  movb $1, \(selector)
                mov $0x11, %al
                out %al, $0xf4
            """, in: dir)
        let r = try runUnderLinuxUser(guest.path)
        #expect(r.status == Guest.passStatus, "\(r.output)")
        #expect(r.output == "")
    }
}
