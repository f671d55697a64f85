// SPDX-License-Identifier: GPL-3.0-or-later
// previrt as: an input file, read once.

#if canImport(Glibc)
import Glibc
#endif

/// An input of GNU as, read once: a pipe or a FIFO cannot be read again.
struct Input {
    var bytes: InputBytes
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
        if isRegularFile, let whole = InputBytes(reading: fd, size: Int(s.st_size)) {
            return Input(bytes: whole, isRegularFile: true)
        }
        // A file that changed size while it was read is read again from the start, to its end.
        if isRegularFile { _ = lseek(fd, 0, SEEK_SET) }
        return Input(bytes: InputBytes(AssemblerMain.readAll(fd, sizeHint: isRegularFile ? Int(s.st_size) : 0)), isRegularFile: isRegularFile)
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
        let noApp = Array("#NO_APP\n".utf8)
        if bytes.starts(with: noApp) {
            return noApp + linefile(name, line: 2) + bytes[noApp.count...]
        }
        return linefile(name, line: 1) + bytes
    }

    /// `.linefile LINE "NAME"` and a newline: the next line is line LINE of NAME.
    static func linefile(_ name: String, line: Int) -> [UInt8] {
        var quoted = ""
        for c in name {
            if c == "\"" || c == "\\" { quoted.append("\\") }
            quoted.append(c)
        }
        return Array(".linefile \(line) \"\(quoted)\"\n".utf8)
    }
}

/// The bytes of an input, at an address that stays put while the object lives: a private read-only
/// mapping of a regular file, or a copy of what was read.
final class InputBytes {
    let buffer: UnsafeBufferPointer<UInt8>
    private let mapped: Bool

    init(_ bytes: [UInt8]) {
        let copy = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        _ = copy.initialize(from: bytes)
        buffer = UnsafeBufferPointer(start: copy.baseAddress, count: bytes.count)
        mapped = false
    }

    /// A regular file of `size` bytes read from `fd` into memory mapped for it and populated in one
    /// call (no page fault per page); nil when that memory cannot be had, or the file is not `size`
    /// bytes long any more. (The file itself is not mapped: one truncated while mapped would raise SIGBUS.)
    init?(reading fd: Int32, size: Int) {
        guard size > 0, let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0),
              p != MAP_FAILED else { return nil }
        let bytes = p.assumingMemoryBound(to: UInt8.self)
        var count = 0
        while count < size {
            let n = read(fd, bytes + count, size - count)
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            count += n
        }
        var more: UInt8 = 0
        guard count == size, read(fd, &more, 1) == 0 else {
            munmap(p, size)
            return nil
        }
        buffer = UnsafeBufferPointer(start: bytes, count: size)
        mapped = true
    }

    deinit {
        if mapped {
            munmap(UnsafeMutableRawPointer(mutating: buffer.baseAddress!), buffer.count)
        } else {
            UnsafeMutableBufferPointer(mutating: buffer).baseAddress!.deallocate()
        }
    }

    var array: [UInt8] { Array(buffer) }
}

/// An input rewritten: slices of it, and the text written between them, in order. It is written to a
/// file with writev, so that a large input is not copied into a new buffer first.
struct Rewritten {
    enum Piece {
        case input(Range<Int>)
        case text([UInt8])
    }
    var pieces: [Piece] = []

    /// The pieces of `input` relabelled as `name` (see `Input.relabelled`).
    static func relabelled(_ input: UnsafeBufferPointer<UInt8>, _ body: [Piece], as name: String) -> Rewritten {
        let noApp = Array("#NO_APP\n".utf8)
        let label = Input.linefile(name, line: input.starts(with: noApp) ? 2 : 1)
        if input.starts(with: noApp) {
            // GNU as looks only at the first line for #NO_APP: it stays first.
            var rest = body
            if case .input(let r) = rest.first, r.lowerBound == 0, r.count >= noApp.count {
                rest[0] = .input(noApp.count..<r.upperBound)
                return Rewritten(pieces: [.input(0..<noApp.count), .text(label)] + rest)
            }
        }
        return Rewritten(pieces: [.text(label)] + body)
    }

    /// Writes every piece to `fd`; false on an I/O error.
    func write(to fd: Int32, from input: UnsafeBufferPointer<UInt8>) -> Bool {
        var i = 0
        while i < pieces.count {
            let batch = pieces[i..<min(i + 512, pieces.count)]
            let ok = withBuffers(Array(batch), input) { vectors in
                var vectors = vectors
                var k = 0
                while k < vectors.count {
                    let first = k
                    let n = vectors.withUnsafeMutableBufferPointer { writev(fd, $0.baseAddress! + first, Int32($0.count - first)) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return false }
                    var left = n
                    while k < vectors.count && left >= vectors[k].iov_len {
                        left -= vectors[k].iov_len
                        k += 1
                    }
                    if left > 0 {
                        vectors[k].iov_base += left
                        vectors[k].iov_len -= left
                    }
                }
                return true
            }
            guard ok else { return false }
            i += batch.count
        }
        return true
    }

    /// The pieces joined (for an input GNU as reads from a pipe).
    func joined(_ input: UnsafeBufferPointer<UInt8>) -> [UInt8] {
        var out: [UInt8] = []
        for piece in pieces {
            switch piece {
            case .input(let r): out += input[r]
            case .text(let t): out += t
            }
        }
        return out
    }

    private func withBuffers<R>(_ batch: [Piece], _ input: UnsafeBufferPointer<UInt8>, _ body: ([iovec]) -> R) -> R {
        var vectors: [iovec] = []
        var texts: [[UInt8]] = []
        for piece in batch {
            if case .text(let t) = piece { texts.append(t) }
        }
        // The texts stay alive (and in place) while their vectors are written.
        return withExtendedLifetime(texts) {
            var t = 0
            for piece in batch {
                switch piece {
                case .input(let r):
                    guard !r.isEmpty else { continue }
                    vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: input.baseAddress! + r.lowerBound), iov_len: r.count))
                case .text:
                    let count = texts[t].count
                    if count > 0 {
                        vectors.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: texts[t].withUnsafeBufferPointer { $0.baseAddress! }), iov_len: count))
                    }
                    t += 1
                }
            }
            return body(vectors)
        }
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
        create { AssemblerMain.writeAll($0, bytes) }
    }

    /// A new file that `write` fills (false on an error), or nil after saying why.
    mutating func create(_ write: (Int32) -> Bool) -> String? {
        var template = Array("\(Self.directory)/previrt-as-XXXXXX.s".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 2) }
        guard fd >= 0 else {
            AssemblerMain.fail("cannot create a temporary file in \(Self.directory): \(String(cString: strerror(errno)))")
            return nil
        }
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        paths.append(path)
        let written = write(fd)
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

/// The dependency file of `--MD FILE`, naming the user's files instead of previrt's temporary copies
/// and without its other temporary files: they are gone when make reads it.
enum DependencyFile {
    /// Replaces each path of `replacements`, spelled as GNU as spells it for make, by its replacement,
    /// or removes it when that is nil; false on an I/O error.
    static func rewrite(_ file: String, replacing replacements: [(path: String, with: String?)]) -> Bool {
        // Not written, or not a regular file (`--MD /dev/stdout`): nothing to rewrite.
        guard let text = ResponseFiles.readText(file) else { return true }
        var out = Array(text.utf8)
        for (path, replacement) in replacements {
            let token = Array((" " + spelledForMake(path)).utf8)
            let substitute = replacement.map { Array((" " + spelledForMake($0)).utf8) } ?? []
            var i = 0
            var kept: [UInt8] = []
            while i < out.count {
                let end = i + token.count
                if end <= out.count, Array(out[i..<end]) == token,
                   end == out.count || out[end] == 0x20 || out[end] == 0x0a || out[end] == 0x5c {
                    kept += substitute
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
