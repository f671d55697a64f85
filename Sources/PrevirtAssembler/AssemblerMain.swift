// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the drop-in assembler without Foundation (files, pipes and processes through libc).

#if canImport(Glibc)
import Glibc
#endif
import PrevirtCatalog
import PrevirtMacros

/// `previrt as ARGS...`: scan the inputs, write their sites in place (or hand gas the macros they need),
/// run the real GNU as.
public enum AssemblerMain {
    /// Set in the real assembler's environment: a previrt as that finds it set was started by another
    /// one as "the real assembler" (two `as` links to previrt on PATH) and stops the loop.
    static let callerVariable = "PREVIRT_AS_CALLER"

    /// Returns the exit status to leave with: the real assembler's, or 2 when it cannot be run.
    public static func run(_ arguments: [String]) -> Int32 {
        if let caller = getenv(callerVariable) {
            fail("""
                \(CommandLine.arguments[0]) is previrt as again, started as the real assembler by \
                \(String(cString: caller)): an `as` on PATH leads back to previrt; set PREVIRT_AS to GNU as
                """)
            return 2
        }
        guard let real = realAssembler() else {
            fail("cannot find the real GNU assembler on PATH: set PREVIRT_AS")
            return 2
        }
        // The scan sees what GNU as will see: response files expanded. GNU as gets them unchanged.
        let expanded = ResponseFiles.expand(arguments)
        let inv = Invocation(expanded.map(\.text))
        guard inv.assemblesSomething else { return spawn(real, arguments, feeds: []) }

        let set = GNUAsMacroSet(architecture: inv.architecture, profile: .default)
        let scanner = SourceScanner(set)
        var sources: [Source] = []
        var feeds: [Feed] = []
        // Each input is read once. A pipe, a FIFO or a terminal cannot be read twice: GNU as gets what
        // was read, through a pipe on the same descriptor (/dev/stdin, /dev/fd/N) or a temporary copy.
        for index in inv.inputs {
            let argument = expanded[index]
            guard let input = Input.read(argument.text) else { return spawn(real, arguments, feeds: []) }
            let scan = scanner.scan(input.bytes.buffer)
            if input.isRegularFile {
                sources.append(Source(bytes: input.bytes, scan: scan, delivery: .named(argument), position: index))
            } else if let fd = Input.descriptor(named: argument.text) {
                // A descriptor named twice is read (and fed) once.
                guard !feeds.contains(where: { $0.fd == fd }) else { continue }
                feeds.append(Feed(fd: fd, bytes: input.bytes.array, position: index))
                sources.append(Source(bytes: input.bytes, scan: scan, delivery: .feed(feeds.count - 1), position: index))
            } else {
                guard !argument.fromResponseFile else {
                    fail("\(argument.text) is not a regular file and is named in a response file: it cannot be read twice; name it on the command line")
                    return 2
                }
                sources.append(Source(bytes: input.bytes, scan: scan, delivery: .copy(argument), position: index))
            }
        }
        if inv.readsStandardInput && !feeds.contains(where: { $0.fd == 0 }) {
            let bytes = InputBytes(readAll(0))
            feeds.append(Feed(fd: 0, bytes: bytes.array, position: inv.standardInputIndex ?? expanded.count))
            sources.append(Source(bytes: bytes, scan: scanner.scan(bytes.buffer), delivery: .feed(feeds.count - 1), position: feeds[feeds.count - 1].position))
        }
        var scan = SourceScan()
        for source in sources {
            scan.needed.formUnion(source.scan.needed)
            scan.needsEverything = scan.needsEverything || source.scan.needsEverything
            scan.optsOut = scan.optsOut || source.scan.optsOut
            scan.repeats = scan.repeats || source.scan.repeats
            scan.sites += source.scan.sites
        }
        var chosen = set
        chosen.selection = scan.selection
        chosen.commandLine = "previrt as (the macros this input needs)"

        var args = arguments
        var temporaries = TemporaryFiles()
        defer { temporaries.removeAll() }
        var assembled: [(copy: String, original: String)] = []
        let nothingSensitive = !scan.needsEverything && scan.needed.isEmpty
        // A listing reads the inputs again by name: then the macros are defined instead.
        if !nothingSensitive, !inv.wantsListing, let rewritten = inPlace(sources, scan, chosen) {
            // The in-place route: each input with sites is rewritten; gas is handed no macro.
            let firstDescriptor = max(Self.firstRewrittenDescriptor, (feeds.map(\.fd).max() ?? 0) + 1)
            for (k, source) in sources.enumerated() {
                guard let body = rewritten[k] else { continue }
                let input = source.bytes.buffer
                switch source.delivery {
                case .named(let argument):
                    // GNU as reads the rewritten file through a pipe, on a descriptor of its own, with a
                    // .linefile that names the user's file: no copy is written to disk.
                    let fd = firstDescriptor + Int32(k)
                    let path = "/dev/fd/\(fd)"
                    feeds.append(Feed(fd: fd, bytes: [], position: source.position, rewritten: (Rewritten.relabelled(input, body.pieces, as: argument.text), source.bytes)))
                    args[argument.origin] = path
                    assembled.append((path, argument.text))
                case .feed(let f):
                    feeds[f].bytes = body.joined(input)
                case .copy:
                    break
                }
            }
            guard materializeCopies(sources, rewritten, &args, &temporaries) else { return 2 }
        } else {
            guard materializeCopies(sources, [], &args, &temporaries) else { return 2 }
            if !nothingSensitive {
                // The macro route: only the macros the inputs need, in a file read before the first input
                // (before the response file that names it, when one does).
                guard let macros = temporaries.create(Array(chosen.text.utf8)) else { return 2 }
                let first = (inv.inputs + [inv.standardInputIndex].compactMap { $0 }).min()
                args.insert(macros, at: first.map { expanded[$0].origin } ?? args.count)
                if first == nil { args.append("-") }
            }
        }
        feeds.sort { $0.position < $1.position }
        let status = spawn(real, args, feeds: feeds)
        // An input GNU as read from its own pages (spliced) must not have changed since it was scanned.
        for source in sources where !source.bytes.isUnchanged {
            guard case .named(let argument) = source.delivery, assembled.contains(where: { $0.original == argument.text }) else { continue }
            fail("\(argument.text) changed while it was assembled: assemble it again")
            return 2
        }
        if status == 0, let dependencies = inv.dependencyFile {
            // GNU as lists the files it read: name the user's files, not previrt's temporary ones.
            let replacements = temporaries.paths.map { path in (path, nil as String?) } + assembled.map { ($0.copy, $0.original as String?) }
            guard DependencyFile.rewrite(dependencies, replacing: replacements) else {
                fail("cannot rewrite \(dependencies) without previrt's temporary files: \(String(cString: strerror(errno)))")
                return 2
            }
        }
        return status
    }

    /// An input as read, with what the scan found in it and how GNU as is to read it.
    struct Source {
        var bytes: InputBytes
        var scan: SourceScan
        var delivery: Delivery
        /// Where GNU as reads it among its inputs (an index into the expanded arguments).
        var position: Int

        enum Delivery {
            /// A regular file: GNU as reads it by its name (unless it is rewritten).
            case named(ExpandedArgument)
            /// Bytes GNU as reads from a descriptor: `feeds[index]`.
            case feed(Int)
            /// A pipe or a FIFO named on the command line: GNU as reads a temporary copy.
            case copy(ExpandedArgument)
        }
    }

    /// The inputs rewritten with every site in place (nil for an input without sites), or nil when the
    /// in-place route does not apply: then the macros are defined instead.
    static func inPlace(_ sources: [Source], _ scan: SourceScan, _ set: GNUAsMacroSet) -> [Rewritten?]? {
        // Each site's text is about 1.5 KB, held until gas has read it: past this many sites the macros,
        // which gas expands one at a time, cost less memory than the in-place text.
        guard scan.sites.count <= Self.mostSitesInPlace, InPlaceExpansion.applies(to: scan, set) else { return nil }
        var expansion = InPlaceExpansion(set)
        let prologue = expansion.prologue
        var out: [Rewritten?] = []
        for source in sources {
            guard !source.scan.sites.isEmpty else {
                out.append(nil)
                continue
            }
            // A file named in a response file cannot be replaced by a copy.
            if case .named(let argument) = source.delivery, argument.fromResponseFile { return nil }
            let bytes = source.bytes.buffer
            var rewritten = Rewritten()
            var at = 0
            for (k, site) in source.scan.sites.enumerated() {
                guard let text = expansion.expand(site.mnemonic, operands: bytes[site.operands..<site.end]) else { return nil }
                rewritten.pieces.append(.input(at..<site.start))
                rewritten.pieces.append(.text(k == 0 && !prologue.isEmpty ? prologue + Array("; ".utf8) + text : text))
                at = site.end
            }
            rewritten.pieces.append(.input(at..<bytes.count))
            out.append(rewritten)
        }
        return out
    }

    /// Temporary copies of the pipes and FIFOs named on the command line (`rewritten[k]` when set), each
    /// with a `.linefile` naming the original.
    static func materializeCopies(_ sources: [Source], _ rewritten: [Rewritten?], _ args: inout [String], _ temporaries: inout TemporaryFiles) -> Bool {
        for (k, source) in sources.enumerated() {
            guard case .copy(let argument) = source.delivery else { continue }
            let bytes = (k < rewritten.count ? rewritten[k] : nil)?.joined(source.bytes.buffer) ?? source.bytes.array
            guard let copy = temporaries.create(Input.relabelled(bytes, as: argument.text)) else { return false }
            args[argument.origin] = copy
        }
        return true
    }

    // MARK: - libc

    static func fail(_ message: String) {
        _ = writeAll(2, Array("previrt as: \(message)\n".utf8))
    }

    /// Everything `fd` gives until its end. `sizeHint` (a regular file's size) sizes the buffer once,
    /// so that the bytes are read straight into it.
    static func readAll(_ fd: Int32, sizeHint: Int = 0) -> [UInt8] {
        var capacity = max(sizeHint + 1, 1 << 16)
        var out: [UInt8] = []
        while true {
            // Read into uninitialized memory (no zero fill): the bytes so far, then what read() gives.
            let kept = out
            var atEnd = false
            out = [UInt8](unsafeUninitializedCapacity: capacity) { buffer, count in
                count = kept.withUnsafeBufferPointer { old in
                    guard let base = old.baseAddress, !old.isEmpty else { return 0 }
                    buffer.baseAddress!.initialize(from: base, count: old.count)
                    return old.count
                }
                while count < capacity {
                    let n = read(fd, buffer.baseAddress! + count, capacity - count)
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { atEnd = true; return }
                    count += n
                }
            }
            if atEnd { return out }
            capacity *= 2
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return false }
            done += n
        }
        return true
    }

    /// $PREVIRT_AS, else the first `as` on PATH that is not this program (a symlink to it, say).
    static func realAssembler() -> String? {
        if let env = getenv("PREVIRT_AS"), env.pointee != 0 { return String(cString: env) }
        let me = realPath(CommandLine.arguments[0].contains("/") ? CommandLine.arguments[0] : "/proc/self/exe")
        let selfExe = realPath("/proc/self/exe")
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/as"
            guard access(candidate, X_OK) == 0 else { continue }
            let resolved = realPath(candidate)
            if resolved != me && resolved != selfExe { return candidate }
        }
        return nil
    }

    static func realPath(_ path: String) -> String {
        guard let r = realpath(path, nil) else { return path }
        defer { free(r) }
        return String(cString: r)
    }

    /// Bytes GNU as reads from descriptor `fd` (0 for standard input), through a pipe.
    /// The descriptor of the first rewritten input in GNU as (the next ones follow): above the ones a
    /// build names itself (/dev/fd/3, /dev/fd/63 for <(...)), and above any other feed's.
    static let firstRewrittenDescriptor: Int32 = 240

    /// The most sites written in place in one run (all inputs together).
    static let mostSitesInPlace = 20_000

    /// F_SETPIPE_SZ (linux/fcntl.h: F_LINUX_SPECIFIC_BASE + 7), which Glibc's Swift overlay does not export.
    static let setPipeSize: Int32 = 1031

    struct Feed {
        var fd: Int32
        var bytes: [UInt8]
        /// Where GNU as reads it among its inputs (an index into the expanded arguments).
        var position: Int
        /// An input rewritten in place, written from the input's own bytes (instead of `bytes`).
        var rewritten: (Rewritten, InputBytes)? = nil
    }

    /// Runs `tool` with `args`, each feed on its descriptor; returns its status. The feeds are written in
    /// the order given, which is the order GNU as reads its inputs in.
    static func spawn(_ tool: String, _ args: [String], feeds: [Feed]) -> Int32 {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        var pipes: [(read: Int32, write: Int32)] = []
        defer { for p in pipes { close(p.read); close(p.write) } }
        for _ in feeds {
            var fds: [Int32] = [-1, -1]
            guard pipe(&fds) == 0 else {
                fail("cannot create a pipe: \(String(cString: strerror(errno)))")
                return 2
            }
            _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
            _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
            // A pipe of 1 MiB (the most an unprivileged process may ask, fs.pipe-max-size) instead of
            // 64 KiB: a large input crosses it with 16 times fewer switches between previrt-as and gas.
            // A refusal leaves the default size.
            _ = fcntl(fds[1], Self.setPipeSize, 1 << 20)
            pipes.append((fds[0], fds[1]))
        }
        // dup2 clears close-on-exec on the target: the child keeps exactly the feeds' descriptors.
        for (feed, p) in zip(feeds, pipes) { posix_spawn_file_actions_adddup2(&fileActions, p.read, feed.fd) }
        let argv = ([tool] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var environment: [UnsafeMutablePointer<CChar>?] = []
        var e = environ
        while let entry = e.pointee {
            environment.append(strdup(entry))
            e += 1
        }
        environment.append(strdup("\(callerVariable)=\(realPath("/proc/self/exe"))"))
        environment.append(nil)
        defer { environment.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, tool, &fileActions, nil, argv, environment)
        for p in pipes { close(p.read) }
        guard status == 0 else {
            for p in pipes { close(p.write) }
            pipes = []
            fail("cannot run \(tool): \(String(cString: strerror(status)))")
            return 2
        }
        signal(SIGPIPE, SIG_IGN)
        for (feed, p) in zip(feeds, pipes) {
            if let (rewritten, input) = feed.rewritten {
                _ = rewritten.write(to: p.write, from: input)
            } else {
                _ = writeAll(p.write, feed.bytes)
            }
            close(p.write)
        }
        pipes = []
        var wstatus: Int32 = 0
        while waitpid(pid, &wstatus, 0) < 0 && errno == EINTR {}
        if wstatus & 0x7f == 0 { return (wstatus >> 8) & 0xff }
        return 128 + (wstatus & 0x7f)
    }
}
