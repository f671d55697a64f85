// SPDX-License-Identifier: GPL-3.0-or-later
// libFuzzer harness over whole files read by `previrt inspect`: libbfd opens the input (an object, an
// executable, an archive, or anything else), and the inspector lists, verifies, covers and counts its
// sites. Built by `make fuzz-inspector` (Fuzz/build-inspector.sh) with swiftc -sanitize=fuzzer,address.

import Glibc
import PrevirtInspector

/// The input goes to a file of this process on tmpfs: libbfd reads files by name.
private let inputPath: String = {
    let dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp"
    return "\(dir)/previrt-inspector-fuzz-\(getpid()).elf"
}()

private let inspector = Inspector(options: InspectionOptions(verify: true, coverage: true, stats: true))

@_cdecl("LLVMFuzzerTestOneInput")
public func inspectorFuzzer(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let fd = open(inputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    guard fd >= 0 else { fatalError("cannot create \(inputPath)") }
    var written = 0
    while written < size {
        let n = write(fd, data + written, size - written)
        guard n > 0 else { fatalError("cannot write \(inputPath)") }
        written += n
    }
    close(fd)
    let report = inspector.inspect([inputPath])
    unlink(inputPath)
    let status = report.exitStatus
    precondition((0...2).contains(status), "exit status \(status) is not 0, 1 or 2")
    // Every site in a known section lies inside it.
    for file in report.files {
        for site in file.sites where site.status == .ok {
            precondition(site.section != nil, "a verified site without a section")
        }
    }
    _ = report.text
    _ = report.diagnosticsText
    return 0
}
