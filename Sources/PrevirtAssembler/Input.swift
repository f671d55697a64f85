// SPDX-License-Identifier: GPL-3.0-or-later
// previrt as: an input file, read once.

#if canImport(Glibc)
import Glibc
#endif

/// An input of GNU as, read once: a pipe or a FIFO cannot be read again.
struct Input {
    var bytes: [UInt8]
    var isRegularFile: Bool

    /// The whole input, or nil when it cannot be opened (GNU as then says why).
    static func read(_ path: String) -> Input? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var s = stat()
        // A directory: gas says why it cannot be assembled.
        guard fstat(fd, &s) == 0, (s.st_mode & S_IFMT) != S_IFDIR else { return nil }
        let isRegularFile = (s.st_mode & S_IFMT) == S_IFREG
        return Input(bytes: AssemblerMain.readAll(fd, sizeHint: isRegularFile ? Int(s.st_size) : 0), isRegularFile: isRegularFile)
    }

    /// The descriptor a path names in every process (`/dev/stdin`, `/dev/fd/N`, `/proc/self/fd/N`):
    /// GNU as opening it in a process whose descriptor N is a pipe reads the pipe.
    static func descriptor(named path: String) -> Int32? {
        if path == "/dev/stdin" { return 0 }
        for prefix in ["/dev/fd/", "/proc/self/fd/"] where path.hasPrefix(prefix) {
            let digits = path.dropFirst(prefix.count)
            if !digits.isEmpty, digits.count < 8, digits.allSatisfy({ $0.isASCII && $0.isNumber }) { return Int32(digits) }
        }
        return nil
    }

    /// `bytes` to be assembled from a temporary copy, with a `.linefile` so that GNU as's messages and
    /// debug information still name `name` and its line numbers. A file that starts with `#NO_APP` keeps
    /// it first: GNU as looks only at the first line for it.
    static func relabelled(_ bytes: [UInt8], as name: String) -> [UInt8] {
        var quoted = ""
        for c in name {
            if c == "\"" || c == "\\" { quoted.append("\\") }
            quoted.append(c)
        }
        let noApp = Array("#NO_APP\n".utf8)
        if bytes.starts(with: noApp) {
            return noApp + Array(".linefile 2 \"\(quoted)\"\n".utf8) + bytes[noApp.count...]
        }
        return Array(".linefile 1 \"\(quoted)\"\n".utf8) + bytes
    }
}

/// Temporary files of previrt as: created with mkstemps (O_CREAT|O_EXCL, mode 0600, a random name) in
/// $TMPDIR, else /tmp; removed when the real assembler has finished.
struct TemporaryFiles {
    private(set) var paths: [String] = []

    static var directory: String {
        if let t = getenv("TMPDIR"), t.pointee != 0 { return String(cString: t) }
        return "/tmp"
    }

    /// A new file holding `bytes`, or nil after saying why.
    mutating func create(_ bytes: [UInt8]) -> String? {
        var template = Array("\(Self.directory)/previrt-as-XXXXXX.s".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 2) }
        guard fd >= 0 else {
            AssemblerMain.fail("cannot create a temporary file in \(Self.directory): \(String(cString: strerror(errno)))")
            return nil
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        paths.append(path)
        let written = AssemblerMain.writeAll(fd, bytes)
        close(fd)
        guard written else {
            AssemblerMain.fail("cannot write \(path): \(String(cString: strerror(errno)))")
            return nil
        }
        return path
    }

    func removeAll() {
        for path in paths { unlink(path) }
    }
}

/// The dependency file of `--MD FILE`, without previrt's temporary files: they are gone when make reads it.
enum DependencyFile {
    /// Removes each of `paths`, spelled as GNU as spells it for make, from the file; false on an I/O error.
    static func remove(_ paths: [String], from file: String) -> Bool {
        // Not written, or not a regular file (`--MD /dev/stdout`): nothing to rewrite.
        guard let text = ResponseFiles.readText(file) else { return true }
        var out = Array(text.utf8)
        for path in paths {
            let token = Array((" " + spelledForMake(path)).utf8)
            var i = 0
            var kept: [UInt8] = []
            while i < out.count {
                let end = i + token.count
                if end <= out.count, Array(out[i..<end]) == token,
                   end == out.count || out[end] == 0x20 || out[end] == 0x0a || out[end] == 0x5c {
                    i = end
                    continue
                }
                kept.append(out[i])
                i += 1
            }
            out = kept
        }
        guard out != Array(text.utf8) else { return true }
        let fd = open(file, O_WRONLY | O_TRUNC | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return AssemblerMain.writeAll(fd, out)
    }

    /// GNU as's quoting of a file name in a make rule: blanks and # escaped with a backslash, $ doubled.
    static func spelledForMake(_ path: String) -> String {
        var out = ""
        for c in path {
            switch c {
            case " ", "\t", "#": out += "\\\(c)"
            case "$": out += "$$"
            default: out.append(c)
            }
        }
        return out
    }
}
