// swift-tools-version: 6.0
// SPDX-License-Identifier: GPL-3.0-or-later
import PackageDescription

let package = Package(
    name: "previrt",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "previrt", targets: ["previrt"]),
        .executable(name: "previrt-as", targets: ["previrt-as"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // The single source of truth: every sensitive x86 instruction.
        .target(name: "PrevirtCatalog"),
        // Note ABI v1: encoder and decoder of `.note.previrt` entries.
        .target(name: "PrevirtNote", dependencies: ["PrevirtCatalog"]),
        // Test support: a small ELF32/ELF64 reader written without libbfd, the tests' independent oracle
        // for where sites are (the tools themselves read objects through libbfd, in PrevirtInspector).
        .target(name: "PrevirtELF", dependencies: ["PrevirtNote"]),
        // Where given bytes occur in a buffer, 16 bytes at a time (the source scan's first pass), and a
        // mapped input handed to a pipe by splice (previrt-as).
        .target(name: "CByteMarks"),
        // Generators: GNU-as macro sets and the C header, all from the catalog.
        .target(name: "PrevirtMacros", dependencies: ["PrevirtCatalog", "PrevirtNote", "CByteMarks"]),
        // `previrt as`: the drop-in assembler: sites written in place, or only the macros its input needs.
        .target(name: "PrevirtAssembler", dependencies: ["PrevirtCatalog", "PrevirtMacros", "CByteMarks"]),
        // Freestanding C runtime (MIT): the note ABI header and the note walker.
        .target(name: "PrevirtRuntime"),
        // libbfd and libopcodes (binutils-dev) behind a small C interface; only PrevirtBinutils uses it.
        .target(name: "CBinutils", linkerSettings: [.linkedLibrary("bfd"), .linkedLibrary("opcodes")]),
        // A safe Swift API over CBinutils: objects, archives, sections, symbols, relocations, decoding.
        .target(name: "PrevirtBinutils", dependencies: ["CBinutils"]),
        // The inspector: list, verify and cover sites; statistics; human and JSON reports.
        .target(name: "PrevirtInspector", dependencies: ["PrevirtCatalog", "PrevirtNote", "PrevirtBinutils"]),
        .executableTarget(
            name: "previrt",
            dependencies: [
                "PrevirtCatalog", "PrevirtNote", "PrevirtMacros", "PrevirtInspector", "PrevirtAssembler",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // The drop-in assembler as a program of its own: no Foundation, fast to start.
        .executableTarget(
            name: "previrt-as", dependencies: ["PrevirtAssembler"],
            // The Swift runtime linked in: no shared Swift libraries to load and relocate at each start.
            linkerSettings: [.unsafeFlags(["-static-stdlib"], .when(platforms: [.linux]))]
        ),
        .testTarget(
            name: "PrevirtTests",
            dependencies: [
                "PrevirtCatalog", "PrevirtNote", "PrevirtELF", "PrevirtMacros", "PrevirtRuntime", "PrevirtBinutils",
                "PrevirtInspector", "PrevirtAssembler",
            ]
        ),
    ]
)
