// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: write generated files whole or not at all, and never through a name someone else planted.

import Foundation

/// Writes the files of `-o` (Docs/cli.md, "Output files"):
/// - a new file, or an existing regular file, is written to a temporary file created with
///   O_CREAT|O_EXCL|O_NOFOLLOW under an unpredictable name in the target's directory, flushed with fsync
///   and renamed over the target: readers see the old file or the new one, never half of it. A replaced
///   file keeps its mode (and its owner and group when the writer may set them); other hard links to it
///   keep the old contents, as with `ld -o` or `sed -i`.
/// - a symbolic link is followed, as `cc -o` does: the file it points to is replaced and the link stays.
///   A dangling link is refused.
/// - an existing character device, FIFO or socket (/dev/null, /dev/stdout, a pipe) is opened for writing,
///   without O_CREAT or O_TRUNC, and written in place: it is never replaced. A block device and a
///   directory are refused.
enum OutputFile {
    /// Writes `text` to `path`, or to standard output for nil or "-".
    static func write(_ text: String, to path: String?) throws(OutputError) {
        let bytes = Array(text.utf8)
        guard let path, path != "-" else {
            try writeAll(1, bytes, path: "standard output")
            return
        }
        guard !path.isEmpty else { throw OutputError("cannot write '': the output file name is empty") }
        var target = stat()
        if stat(path, &target) != 0 {
            let reason = errno
            var link = stat()
            if lstat(path, &link) == 0 && (link.st_mode & S_IFMT) == S_IFLNK {
                throw OutputError("cannot write \(path): it is a symbolic link to a file that does not exist")
            }
            guard reason == ENOENT else { throw OutputError("cannot write \(path): \(describe(reason))") }
            try replace(resolvedPath: path, shownAs: path, keeping: nil, bytes)
            return
        }
        switch target.st_mode & S_IFMT {
        case S_IFREG:
            try replace(resolvedPath: resolved(path), shownAs: path, keeping: target, bytes)
        case S_IFDIR:
            throw OutputError("cannot write \(path): it is a directory")
        case S_IFBLK:
            throw OutputError("cannot write \(path): it is a block device (refused: previrt writes text)")
        default:
            try writeInPlace(path, bytes)
        }
    }

    /// Writes `text` to standard error; a failure there has nowhere to be reported and is ignored.
    static func writeStandardError(_ text: String) {
        try? writeAll(2, Array(text.utf8), path: "standard error")
    }

    /// The path a symbolic link leads to, so that the temporary file is created next to the real file.
    private static func resolved(_ path: String) throws(OutputError) -> String {
        var link = stat()
        guard lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK else { return path }
        guard let real = realpath(path, nil) else { throw OutputError("cannot write \(path): \(describe(errno))") }
        defer { free(real) }
        return String(cString: real)
    }

    /// A character device, FIFO or socket: written through, never replaced.
    private static func writeInPlace(_ path: String, _ bytes: [UInt8]) throws(OutputError) {
        let fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC)
        guard fd >= 0 else { throw OutputError("cannot write \(path): \(describe(errno))") }
        defer { close(fd) }
        var opened = stat()
        // Replaced by a regular file since it was looked at: writing it without O_TRUNC would leave a
        // mixture of old and new bytes.
        guard fstat(fd, &opened) == 0, (opened.st_mode & S_IFMT) != S_IFREG, (opened.st_mode & S_IFMT) != S_IFDIR else {
            throw OutputError("cannot write \(path): it changed while it was opened")
        }
        try writeAll(fd, bytes, path: path)
    }

    /// Writes a temporary file next to `resolvedPath` and renames it over it.
    private static func replace(resolvedPath: String, shownAs path: String, keeping old: stat?, _ bytes: [UInt8]) throws(OutputError) {
        let (directory, name) = split(resolvedPath)
        var isDirectory = stat()
        guard stat(directory, &isDirectory) == 0, (isDirectory.st_mode & S_IFMT) == S_IFDIR else {
            throw OutputError("cannot write \(path): directory \(directory) does not exist")
        }
        let (fd, temporary) = try createTemporary(in: directory, for: name, shownAs: path)
        var renamed = false
        defer {
            close(fd)
            if !renamed { unlink(temporary) }
        }
        try writeAll(fd, bytes, path: path)
        if let old {
            var mode = old.st_mode & 0o7777
            if fchown(fd, old.st_uid, old.st_gid) != 0 { mode &= ~(S_ISUID | S_ISGID) }
            guard fchmod(fd, mode) == 0 else { throw OutputError("cannot write \(path): \(describe(errno))") }
        } else {
            let mask = umask(0)
            umask(mask)
            guard fchmod(fd, 0o666 & ~mask) == 0 else { throw OutputError("cannot write \(path): \(describe(errno))") }
        }
        guard fsync(fd) == 0 else { throw OutputError("cannot write \(path): \(describe(errno))") }
        guard rename(temporary, resolvedPath) == 0 else { throw OutputError("cannot write \(path): \(describe(errno))") }
        renamed = true
        let directoryFD = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryFD >= 0 {
            _ = fsync(directoryFD)
            close(directoryFD)
        }
    }

    /// The directory part (as written, "." for none) and the last component of a path.
    private static func split(_ path: String) -> (String, String) {
        guard let slash = path.lastIndex(of: "/") else { return (".", path) }
        let directory = String(path[..<slash])
        return (directory.isEmpty ? "/" : directory, String(path[path.index(after: slash)...]))
    }

    /// A new file `.NAME.XXXXXXXXXXXX.tmp` (twelve random letters and digits) that did not exist before,
    /// created without following a symbolic link.
    private static func createTemporary(in directory: String, for name: String, shownAs path: String) throws(OutputError) -> (Int32, String) {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        var generator = SystemRandomNumberGenerator()
        for _ in 0..<100 {
            let random = String((0..<12).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
            let candidate = "\(directory)/.\(name).\(random).tmp"
            let fd = open(candidate, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
            if fd >= 0 { return (fd, candidate) }
            if errno != EEXIST { throw OutputError("cannot write \(path): cannot create a temporary file in \(directory): \(describe(errno))") }
        }
        throw OutputError("cannot write \(path): cannot create a temporary file in \(directory)")
    }

    private static func writeAll(_ fd: Int32, _ bytes: [UInt8], path: String) throws(OutputError) {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw OutputError("cannot write \(path): \(n < 0 ? describe(errno) : "nothing was written")") }
            done += n
        }
    }

    private static func describe(_ code: Int32) -> String { String(cString: strerror(code)) }
}

/// A file that cannot be read or written: exit status 2 (Docs/cli.md).
struct OutputError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
