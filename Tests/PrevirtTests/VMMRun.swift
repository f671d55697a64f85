// SPDX-License-Identifier: GPL-3.0-or-later
// A `previrt run` started in the background, for the tests that look at the linux-user VMM's processes
// while it runs (the address-space pool's slots, its supervisor): AddressSpacePoolTests,
// SupervisorContainmentTests.

import Foundation

/// A `previrt run` in the background, its output in a file, its working directory `dir` (a SIGQUIT core
/// would land there), its processes marked in their environment so that they can be found after the
/// supervisor is gone.
final class VMMRun {
    let process = Process()
    let output: URL
    let marker = "PREVIRT_TEST_RUN_MARKER=" + UUID().uuidString

    init(_ arguments: [String], call: String? = nil, in dir: URL) throws {
        output = dir.appendingPathComponent("output.txt")
        _ = FileManager.default.createFile(atPath: output.path, contents: nil)
        let file = try FileHandle(forWritingTo: output)
        var environment = ProcessInfo.processInfo.environment
        let parts = marker.split(separator: "=", maxSplits: 1).map(String.init)
        environment[parts[0]] = parts[1]
        environment["PREVIRT_TEST_SUPERVISOR_CALL"] = call
        process.executableURL = URL(fileURLWithPath: Fixture.previrt)
        process.arguments = ["run"] + arguments
        process.environment = environment
        process.currentDirectoryURL = dir
        process.standardOutput = file
        process.standardError = file
        process.standardInput = FileHandle.nullDevice
        try process.run()
    }

    var supervisor: pid_t { process.processIdentifier }

    /// The slots: the supervisor's children (previrt execs the VMM, so the supervisor is this pid).
    var slots: [pid_t] {
        let text = (try? String(contentsOfFile: "/proc/\(supervisor)/task/\(supervisor)/children", encoding: .utf8)) ?? ""
        return text.split(separator: " ").compactMap { pid_t($0) }
    }

    /// Nanoseconds a process has run on a CPU (/proc/PID/schedstat), or nil once it is gone.
    static func cpuTime(_ pid: pid_t) -> UInt64? {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/schedstat", encoding: .utf8) else { return nil }
        return text.split(separator: " ").first.flatMap { UInt64($0) }
    }

    /// Waits at most `seconds` until there are `count` slots; them, or fewer if the run ended first.
    func waitForSlots(_ count: Int, seconds: Double = 20) -> [pid_t] {
        let deadline = Date().addingTimeInterval(seconds)
        var found: [pid_t] = []
        while found.count < count && Date() < deadline && process.isRunning {
            found = slots
            usleep(10_000)
        }
        return found
    }

    /// Waits at most `seconds` until the supervisor's /proc status says `field` is `value`; whether it did.
    func waitForStatus(_ field: String, _ value: String, seconds: Double = 20) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline && process.isRunning {
            if Self.status(supervisor)[field] == value { return true }
            usleep(10_000)
        }
        return false
    }

    /// The fields of /proc/PID/status.
    static func status(_ pid: pid_t) -> [String: String] {
        let text = (try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8)) ?? ""
        var fields: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2 { fields[String(parts[0])] = parts[1].trimmingCharacters(in: .whitespaces) }
        }
        return fields
    }

    /// Waits at most `seconds` for the run to end; (status, killed by a signal) or nil (then it is killed).
    func wait(seconds: Double) -> (status: Int32, signalled: Bool)? {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(supervisor, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }

    /// Live processes of this run (a zombie's environment reads empty), at most `seconds` after it ended:
    /// the slots die with the supervisor (PR_SET_PDEATHSIG).
    func leftOver(seconds: Double = 5) -> [pid_t] {
        let deadline = Date().addingTimeInterval(seconds)
        var found: [pid_t] = []
        repeat {
            found = ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).compactMap { pid_t($0) }.filter {
                guard let data = FileManager.default.contents(atPath: "/proc/\($0)/environ") else { return false }
                return data.split(separator: 0).contains { String(decoding: $0, as: UTF8.self) == marker }
            }
            if found.isEmpty { break }
            usleep(20_000)
        } while Date() < deadline
        return found
    }

    var text: String { ((try? String(contentsOf: output, encoding: .utf8)) ?? "").replacingOccurrences(of: "\r", with: "") }
}
