// swift-tools-version: 6.1
import PackageDescription

// The release build of the dynamic library exports only the C API (version script) under the
// SONAME the installed library has. CMakeLists.txt builds the installable library the same way.
let packageDirectory = String(#filePath.dropLast("/Package.swift".count))
let releaseLinkerFlags: [String] = [
    "-Xlinker", "--version-script=\(packageDirectory)/abi/rillflow.map",
    "-Xlinker", "-soname=librillflow.so.1",
]
// The core must not pull in Concurrency or StringProcessing: the library loads in ~2 ms.
let leanRuntime: [SwiftSetting] = [
    .unsafeFlags([
        "-Xfrontend", "-disable-implicit-concurrency-module-import",
        "-Xfrontend", "-disable-implicit-string-processing-module-import",
    ]),
]

let package = Package(
    name: "Rillflow",
    products: [
        .library(name: "rillflow", type: .dynamic, targets: ["Rillflow"]),
    ],
    targets: [
        // The public C header, imported by Swift as the module CRillflow.
        .target(name: "CRillflow", path: "Include", exclude: [], publicHeadersPath: "."),
        // Operating-system calls that Glibc does not expose to Swift (eventfd, epoll).
        .target(name: "CSystem", path: "Sources/CSystem"),
        // The engine, pure Swift: no C types, no Foundation.
        .target(name: "RillflowCore", dependencies: ["CSystem"], path: "Sources/RillflowCore",
                swiftSettings: leanRuntime),
        // The C ABI: implements every function of Include/rillflow.h and nothing else.
        .target(name: "Rillflow", dependencies: ["CRillflow", "RillflowCore"], path: "Sources/Rillflow",
                swiftSettings: leanRuntime,
                linkerSettings: [.unsafeFlags(releaseLinkerFlags, .when(configuration: .release))]),
        // Threads and shared values for the tests of both modules.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "RillflowCoreTests", dependencies: ["RillflowCore", "TestSupport"], path: "Tests/RillflowCoreTests"),
        .testTarget(name: "RillflowABITests", dependencies: ["Rillflow", "CRillflow", "TestSupport"], path: "Tests/RillflowABITests"),
    ],
    swiftLanguageModes: [.v6]
)
