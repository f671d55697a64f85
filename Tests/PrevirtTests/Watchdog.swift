// SPDX-License-Identifier: GPL-3.0-or-later
// Test support: run a shell command with a marker in its environment, and kill every process that
// carries the marker when the command outlives its deadline, so that a regression (a process that blocks on a FIFO, `as` links that call each other
// without end) fails the test instead of hanging it or filling the process table.

import Foundation

enum Watchdog {
    /// Runs `/bin/sh -c command` in `directory`; standard output and error are captured together. After
    /// `seconds`, every process the command started (all inherit the marker) is killed; the status is then 137.
    static func run(_ command: String, in directory: URL, seconds: Double = 20, environment: [String: String]? = nil) throws -> CommandResult {
        let output = directory.appendingPathComponent(".watchdog-\(UUID().uuidString).out")
        defer { try? FileManager.default.removeItem(at: output) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "exec >'\(output.path)' 2>&1 </dev/null; \(command)"]
        process.currentDirectoryURL = directory
        var env = environment ?? ProcessInfo.processInfo.environment
        env["PREVIRT_TEST_WATCHDOG"] = output.lastPathComponent
        process.environment = env
        try process.run()
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(50_000) }
        var status = Int32(137)
        if !process.isRunning {
            process.waitUntilExit()
            status = process.terminationStatus
        }
        // Kill what is left (all of it after the deadline, leftovers in the background otherwise), until nothing is: a process that is forking when the signal lands is caught next time.
        for _ in 0..<200 {
            let marked = markedProcesses(marker: output.lastPathComponent)
            if marked.isEmpty { break }
            for pid in marked { kill(pid, SIGKILL) }
            usleep(20_000)
        }
        if process.isRunning { process.waitUntilExit() }
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        return CommandResult(status: status, output: text)
    }

    /// The processes whose environment carries `marker` (every descendant of the command inherits it).
    static func markedProcesses(marker: String) -> [pid_t] {
        let me = getpid()
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { pid in
            guard pid != me, let data = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { return false }
            return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == "PREVIRT_TEST_WATCHDOG=\(marker)" }
        }
    }
}
