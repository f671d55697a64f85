// SPDX-License-Identifier: GPL-3.0-or-later
// previrt as: an input file, read once.

#if canImport(Glibc)
import Glibc
#endif
import CByteMarks

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
        if isRegularFile, let mapped = InputBytes(mapping: fd, s) {
            return Input(bytes: mapped, isRegularFile: true)
        }
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

/// The bytes of an input, at an address that stays put while the object lives: a regular file mapped
/// read-only, memory mapped for it and filled by read, or a copy of what was read.
final class InputBytes {
    let buffer: UnsafeBufferPointer<UInt8>
    private let mapped: Bool
    /// The file mapped (its own descriptor, to splice from), and what fstat said of it then.
    private(set) var file: (fd: Int32, status: stat)? = nil

    /// A regular file mapped (no copy made, no page zeroed), or nil when it cannot be. Its bytes are
    /// the file's own pages: `isUnchanged` says afterwards whether they stayed what they were.
    init?(mapping fd: Int32, _ status: stat) {
        let size = Int(status.st_size)
        guard size > 0 else { return nil }
        let own = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard own >= 0 else { return nil }
        guard let p = pv_map_file(own, size) else {
            close(own)
            return nil
        }
        buffer = UnsafeBufferPointer(start: p, count: size)
        mapped = true
        file = (own, status)
    }

    /// False when the file mapped was changed, replaced or shrank since it was mapped: what was scanned
    /// (or moved into GNU as's pipe) may not be what the file holds. True for bytes held in memory.
    var isUnchanged: Bool {
        guard let (fd, then) = file else { return true }
        var now = stat()
        guard pv_mapping_damaged() == 0, fstat(fd, &now) == 0 else { return false }
        return now.st_size == then.st_size && now.st_ino == then.st_ino && now.st_dev == then.st_dev
            && now.st_ctim.tv_sec == then.st_ctim.tv_sec && now.st_ctim.tv_nsec == then.st_ctim.tv_nsec
            && now.st_mtim.tv_sec == then.st_mtim.tv_sec && now.st_mtim.tv_nsec == then.st_mtim.tv_nsec
    }

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
        if let (fd, _) = file {
            pv_unmap_file(buffer.baseAddress!, buffer.count)
            close(fd)
        } else if mapped {
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

    /// Writes every piece to `fd`; false on an I/O error. The input's slices are moved from the file's
    /// pages into the pipe when `input` is a mapped file and `fd` a pipe (splice: no copy); then the
    /// reader reads the file's pages themselves, and `input.isUnchanged` after it has read them says
    /// whether they are the bytes that were scanned.
    func write(to fd: Int32, from bytes: InputBytes) -> Bool {
        guard let (file, _) = bytes.file else { return write(to: fd, from: bytes.buffer) }
        var pending: [Piece] = []
        for piece in pieces {
            guard case .input(let r) = piece else {
                pending.append(piece)
                continue
            }
            if !pending.isEmpty {
                guard Rewritten(pieces: pending).write(to: fd, from: bytes.buffer) else { return false }
                pending = []
            }
            var at = r.lowerBound
            while at < r.upperBound {
                let n = pv_splice_to_pipe(file, Int64(at), fd, r.upperBound - at)
                if n < 0 && (errno == EINTR || errno == EAGAIN) { continue }
                if n < 0 && (errno == EINVAL || errno == ENOSYS) {
                    // No splice here: write the rest from the mapping.
                    pending.append(.input(at..<r.upperBound))
                    break
                }
                // The file ended early (it shrank): GNU as must not get less than was scanned.
                if n <= 0 { return false }
                at += n
            }
        }
        return pending.isEmpty || Rewritten(pieces: pending).write(to: fd, from: bytes.buffer)
    }

    /// Writes every piece to `fd` from `input`; false on an I/O error.
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
