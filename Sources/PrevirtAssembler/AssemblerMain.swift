// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: the drop-in assembler without Foundation (files, pipes and processes through libc).

#if canImport(Glibc)
import Glibc
#endif
import PrevirtCatalog
import PrevirtMacros

/// `previrt as ARGS...`: scan the inputs, prepend the macros they need, run the real GNU as.
public enum AssemblerMain {
    /// Returns the exit status to leave with: the real assembler's, or 2 when it cannot be run.
    public static func run(_ arguments: [String]) -> Int32 {
        guard let real = realAssembler() else {
            fail("cannot find the real GNU assembler on PATH: set PREVIRT_AS")
            return 2
        }
        let inv = Invocation(arguments)
        guard inv.assemblesSomething else { return spawn(real, arguments, input: nil) }

        let set = GNUAsMacroSet(architecture: inv.architecture, profile: Profile.builtIn[0])
        var scan = SourceScan()
        for index in inv.inputs {
            guard let bytes = readFile(arguments[index]) else { return spawn(real, arguments, input: nil) }
            merge(&scan, bytes, set)
        }
        var standardInput: [UInt8]?
        if inv.readsStandardInput {
            let bytes = readAll(0)
            standardInput = bytes
            merge(&scan, bytes, set)
        }
        if !scan.needsEverything && scan.needed.isEmpty {
            return spawn(real, arguments, input: standardInput)   // nothing sensitive: the plain assembler
        }
        var chosen = set
        chosen.selection = scan.selection
        chosen.commandLine = "previrt as (the macros this input needs)"
        var template = Array("/tmp/previrt-as-XXXXXX.s".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemps($0.baseAddress!, 2) }
        guard fd >= 0 else {
            fail("cannot create a temporary file: \(String(cString: strerror(errno)))")
            return 2
        }
        let path = template.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        defer { unlink(path) }
        guard writeAll(fd, Array(chosen.text.utf8)) else {
            close(fd)
            fail("cannot write \(path)")
            return 2
        }
        close(fd)
        var args = arguments
        args.insert(path, at: inv.inputs.first ?? args.firstIndex(of: "-") ?? args.count)
        if inv.inputs.isEmpty && !args.contains("-") { args.append("-") }
        return spawn(real, args, input: standardInput)
    }

    /// What the arguments of GNU as say.
    struct Invocation {
        static let optionsWithValue: Set<String> = ["-o", "-I", "--defsym", "-MD", "--MD", "--debug-prefix-map"]
        var inputs: [Int] = []
        var readsStandardInput = false
        var architecture: Architecture = .x86_64
        var assemblesSomething = true

        init(_ arguments: [String]) {
            var i = 0
            var sawInput = false
            while i < arguments.count {
                let a = arguments[i]
                if Self.optionsWithValue.contains(a) {
                    i += 2
                    continue
                }
                switch a {
                case "--32": architecture = .i386
                case "--64", "--x32": architecture = .x86_64
                case "--version", "--help", "-V": assemblesSomething = false
                case "-":
                    readsStandardInput = true
                    sawInput = true
                default:
                    if !a.hasPrefix("-") {
                        inputs.append(i)
                        sawInput = true
                    }
                }
                i += 1
            }
            if !sawInput && assemblesSomething { readsStandardInput = true }
        }
    }

    static func merge(_ scan: inout SourceScan, _ bytes: [UInt8], _ set: GNUAsMacroSet) {
        let found = bytes.withUnsafeBufferPointer { SourceScan.scan($0, for: set) }
        scan.needed.formUnion(found.needed)
        scan.needsEverything = scan.needsEverything || found.needsEverything
    }

    // MARK: - libc

    static func fail(_ message: String) {
        _ = writeAll(2, Array("previrt as: \(message)\n".utf8))
    }

    static func readAll(_ fd: Int32) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    static func readFile(_ path: String) -> [UInt8]? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        return readAll(fd)
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

    /// Runs `tool` with `args`, feeding `input` to its standard input when given; returns its status.
    static func spawn(_ tool: String, _ args: [String], input: [UInt8]?) -> Int32 {
        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        var pipeFDs: [Int32] = [-1, -1]
        if input != nil {
            guard pipe(&pipeFDs) == 0 else { return 2 }
            posix_spawn_file_actions_adddup2(&fileActions, pipeFDs[0], 0)
            posix_spawn_file_actions_addclose(&fileActions, pipeFDs[1])
            posix_spawn_file_actions_addclose(&fileActions, pipeFDs[0])
        }
        let argv = ([tool] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let status = posix_spawn(&pid, tool, &fileActions, nil, argv, environ)
        if input != nil { close(pipeFDs[0]) }
        guard status == 0 else {
            fail("cannot run \(tool): \(String(cString: strerror(status)))")
            if input != nil { close(pipeFDs[1]) }
            return 2
        }
        if let input {
            signal(SIGPIPE, SIG_IGN)
            _ = writeAll(pipeFDs[1], input)
            close(pipeFDs[1])
        }
        var wstatus: Int32 = 0
        while waitpid(pid, &wstatus, 0) < 0 && errno == EINTR {}
        if wstatus & 0x7f == 0 { return (wstatus >> 8) & 0xff }
        return 128 + (wstatus & 0x7f)
    }
}
