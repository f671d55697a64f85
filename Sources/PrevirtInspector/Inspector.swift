// SPDX-License-Identifier: GPL-3.0-or-later
// previrt: inspect files: objects, executables, shared objects, archives, vmlinux.

import PrevirtBinutils

/// Inspects files and collects one report per object.
///
/// ```swift
/// let report = Inspector(options: InspectionOptions(verify: true, coverage: true)).inspect(["vmlinux"])
/// exit(report.exitStatus)
/// ```
public struct Inspector: Sendable {
    public var options: InspectionOptions

    public init(options: InspectionOptions) { self.options = options }

    public func inspect(_ paths: [String]) -> InspectionReport {
        InspectionReport(files: paths.flatMap(inspect))
    }

    public func inspect(_ path: String) -> [FileReport] {
        let file: BinaryFile
        do {
            file = try BinaryFile(path: path)
        } catch {
            var r = FileReport(path: path, format: "", arch: "", relocatable: false)
            r.diagnostics.append(Diagnostic(code: DiagnosticCode.unreadable.rawValue, severity: .unusable, message: "\(path): \(error.description)"))
            return [r]
        }
        if file.isArchive && file.objects.isEmpty {
            var r = FileReport(path: path, format: "archive", arch: "", relocatable: true)
            r.diagnostics.append(Diagnostic(code: DiagnosticCode.emptyArchive.rawValue, severity: .note, message: "\(path): the archive has no object members"))
            return [r]
        }
        return file.objects.map { object in
            let name = file.isArchive ? "\(path)(\(object.name))" : path
            var inspector = ObjectInspector(object: object, path: name, options: options)
            return inspector.run()
        }
    }
}
