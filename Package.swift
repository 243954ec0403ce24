// swift-tools-version:6.1
import PackageDescription

// Build-time paths. `make` passes them through the environment of `swift build`; they are compiled
// into the binary as C string constants and nothing at run time can change them.
let env = Context.environment
func path(_ key: String, _ fallback: String) -> CSetting {
    .define(key, to: "\"\(env[key] ?? fallback)\"")
}

// `make test` (and so CI) sets JITEXEC_WERROR=1: our own targets build with no warnings at all.
let strict: [SwiftSetting] =
    [.swiftLanguageMode(.v6)] + (env["JITEXEC_WERROR"] == "1" ? [.unsafeFlags(["-warnings-as-errors"])] : [])

let package = Package(
    name: "jitexec",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(url: "https://github.com/LebJe/TOMLKit", exact: "0.6.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        // SQLite and Nettle are found without pkg-config: its answer put the system's library
        // folder ahead of the one the Makefile's release build searches first for SQLite's static
        // archive (see STATIC_LIBS there).
        .systemLibrary(name: "CSQLite", providers: [.apt(["libsqlite3-dev"])]),
        .systemLibrary(name: "CPAM", providers: [.apt(["libpam0g-dev"])]),
        // SHA-256 (GNU Nettle): see Sources/CNettle/shim.h.
        .systemLibrary(name: "CNettle", providers: [.apt(["nettle-dev"])]),
        // libpq, dlopen()ed by the PostgreSQL store on first use: nothing links it, so a host on
        // SQLite never loads it. Building needs Debian's libpq-dev for the header only.
        .target(name: "CJitexecPQ"),
        .target(
            name: "CJitexecConfig",
            cSettings: [
                path("JITEXEC_PREFIX", "/usr/local"),
                path("JITEXEC_SYSCONFDIR", "/etc"),
                path("JITEXEC_LOCALSTATEDIR", "/var"),
                path("JITEXEC_RUNDIR", "/run"),
                path("JITEXEC_PAM_SERVICE", "jitexec"),
                path("JITEXEC_VERSION", "0.1.0"),
            ]),
        .target(name: "JitexecBase", swiftSettings: strict),
        // The system layer: accounts, paths, clocks, write loops, wait statuses and the one way to
        // start a process (its C half owns every fork→exec window).
        .target(name: "CJitexecSystem"),
        .target(name: "JitexecSystem", dependencies: ["JitexecBase", "CJitexecSystem"], swiftSettings: strict),
        .target(name: "JitexecAuth", dependencies: ["JitexecBase", "JitexecSystem", "CPAM"], swiftSettings: strict),
        .target(
            name: "JitexecExec", dependencies: ["JitexecBase", "JitexecSystem", "CJitexecSystem"],
            swiftSettings: strict),
        // The policy model, patterns and decisions: what the setuid hot path needs.
        .target(name: "JitexecPolicy", dependencies: ["JitexecBase", "JitexecSystem"], swiftSettings: strict),
        // TOML -> Policy with FILE:LINE diagnostics. TOMLKit brings full Foundation (ICU), so only
        // jitctl links this; jitexec reads the policy jitctl compiled (see CompiledPolicy).
        .target(
            name: "JitexecPolicyTOML",
            dependencies: [
                "JitexecPolicy", "JitexecBase", "JitexecSystem",
                .product(name: "TOMLKit", package: "TOMLKit"),
            ],
            swiftSettings: strict),
        // Nettle's SHA-256 linked without its start-up CPU probe (nettle.c); only what links Nettle.
        .target(name: "CJitexecNettle"),
        .target(
            name: "JitexecStore",
            dependencies: [
                "JitexecBase", "JitexecSystem", "CJitexecSystem", "CSQLite", "CJitexecPQ", "CNettle",
                "CJitexecNettle",
            ],
            swiftSettings: strict),
        .target(
            name: "JitexecCore",
            dependencies: [
                "JitexecBase", "JitexecSystem", "JitexecPolicy", "JitexecStore", "JitexecAuth", "JitexecExec",
                "CJitexecConfig",
            ],
            swiftSettings: strict),
        // Linked into the setuid executables only: it empties the environment before the runtime reads it.
        .target(name: "CJitexecStartup"),
        .executableTarget(name: "jitexec", dependencies: ["JitexecCore", "CJitexecStartup"], swiftSettings: strict),
        .executableTarget(
            name: "jitctl",
            dependencies: [
                "JitexecCore", "JitexecPolicyTOML", "CJitexecStartup",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: strict),
        .executableTarget(
            name: "jitexec-bench-scale", dependencies: ["JitexecStore", "JitexecSystem", "JitexecBase"],
            path: "bench/scale", swiftSettings: strict),
        .executableTarget(
            name: "jitexec-audit-stress", dependencies: ["JitexecStore", "JitexecSystem"], path: "Tests/AuditStress",
            swiftSettings: strict),
        .testTarget(name: "JitexecAuthTests", dependencies: ["JitexecAuth", "JitexecSystem"], swiftSettings: strict),
        .testTarget(
            name: "JitexecExecTests", dependencies: ["JitexecExec", "JitexecSystem", "CJitexecSystem"],
            swiftSettings: strict),
        .testTarget(name: "JitexecBaseTests", dependencies: ["JitexecBase"], swiftSettings: strict),
        .testTarget(
            name: "JitexecPolicyTests", dependencies: ["JitexecPolicy", "JitexecPolicyTOML"], swiftSettings: strict),
        .testTarget(name: "JitexecStoreTests", dependencies: ["JitexecStore"], swiftSettings: strict),
        .testTarget(
            name: "JitexecCoreTests", dependencies: ["JitexecCore", "JitexecPolicyTOML", "JitexecSystem"],
            swiftSettings: strict),
    ]
)

// libFuzzer targets, only with `make fuzz` (JITEXEC_FUZZ=1 and -sanitize=fuzzer: libFuzzer owns main).
if env["JITEXEC_FUZZ"] == "1" {
    package.targets += [
        .target(name: "FuzzDriver", path: "Fuzz/FuzzDriver", swiftSettings: strict),
        .executableTarget(
            name: "fuzz-policy", dependencies: ["FuzzDriver", "JitexecPolicy", "JitexecPolicyTOML", "JitexecBase"],
            path: "Fuzz/fuzz-policy", swiftSettings: strict + [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "fuzz-pattern", dependencies: ["FuzzDriver", "JitexecPolicy", "JitexecBase"],
            path: "Fuzz/fuzz-pattern",
            swiftSettings: strict + [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "fuzz-escape", dependencies: ["FuzzDriver", "JitexecBase"], path: "Fuzz/fuzz-escape",
            swiftSettings: strict + [.unsafeFlags(["-parse-as-library"])]),
        .executableTarget(
            name: "fuzz-time", dependencies: ["FuzzDriver", "JitexecPolicy", "JitexecBase"], path: "Fuzz/fuzz-time",
            swiftSettings: strict + [.unsafeFlags(["-parse-as-library"])]),
    ]
}
