// SPDX-License-Identifier: GPL-3.0-or-later
// The cached i386 guest kernel (Kernel/build-guest.sh), one helper for every test that boots it.

import Foundation

enum GuestKernel {
    /// The directory Kernel/build-guest.sh caches the kernel in ($KERNEL_WORK, as the script reads it).
    static var work: String {
        ProcessInfo.processInfo.environment["KERNEL_WORK"] ?? Toolchain.packageRoot.appendingPathComponent(".build/kernel").path
    }

    /// The vmlinux, built by Kernel/build-guest.sh the first time (several minutes on 2 cores); the script
    /// prints its path (without rebuilding when the cache is current). A static let is initialized once:
    /// concurrent tests in this process wait for that one run; the script itself holds a flock on
    /// $KERNEL_WORK/.build-guest.lock, so another process (a second `swift test`, a make target) waits too.
    static let vmlinux: Result<String, CorpusError> = {
        do {
            let script = Toolchain.packageRoot.appendingPathComponent("Kernel/build-guest.sh").path
            let r = try Toolchain.run("timeout", ["-s", "KILL", "1800", "nice", script])
            guard r.succeeded, let path = r.output.split(separator: "\n").last.map(String.init),
                  FileManager.default.fileExists(atPath: path)
            else { return .failure(CorpusError("Kernel/build-guest.sh failed (status \(r.status)): \(r.output.suffix(3000))")) }
            return .success(path)
        } catch {
            return .failure(CorpusError("cannot run Kernel/build-guest.sh: \(error)"))
        }
    }()

    static func path() throws -> String { try vmlinux.get() }
}
