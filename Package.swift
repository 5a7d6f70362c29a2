// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kemu",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "kemu", targets: ["kemu"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // C interop with Debian's libmicrohttpd (apt-get install libmicrohttpd-dev).
        .systemLibrary(name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
        // HTTP engine: everything libmicrohttpd-specific stays here.
        .target(name: "KemuHTTP", dependencies: ["CMicroHTTPD"]),
        // JSON value model, metadata helpers, selectors, patches, Status errors.
        .target(name: "KemuAPI"),
        // Prometheus metrics: counters, gauges, histograms and the text exposition `/metrics` serves.
        .target(name: "KemuMetrics"),
        // The object store: resourceVersion, objects, event log, watch fan-out.
        .target(name: "KemuStore", dependencies: ["KemuAPI", "KemuMetrics"]),
        // One description per resource kind: defaults, validation, table columns, field selectors.
        .target(name: "KemuRegistry", dependencies: ["KemuAPI", "KemuStore"]),
        // Controllers that run inside kemu (garbage collector, namespace lifecycle, ...).
        .target(name: "KemuControllers", dependencies: ["KemuAPI", "KemuStore", "KemuRegistry", "KemuMetrics"]),
        // `kemu serve --cluster FILE.yaml`: the cluster file, read into ClusterOptions.
        .target(name: "KemuClusterFile", dependencies: ["KemuAPI", "KemuControllers", .product(name: "Yams", package: "Yams")]),
        // YAML request bodies, read as the JSON they stand for.
        .target(name: "KemuYAML", dependencies: ["KemuAPI", .product(name: "Yams", package: "Yams")]),
        // REST handlers, routing, discovery, OpenAPI, Tables.
        .target(name: "KemuServer", dependencies: ["KemuAPI", "KemuStore", "KemuRegistry", "KemuHTTP", "KemuControllers", "KemuYAML", "KemuMetrics"]),
        .executableTarget(name: "kemu", dependencies: [
            "KemuServer",
            "KemuClusterFile",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .testTarget(name: "KemuAPITests", dependencies: ["KemuAPI"]),
        .testTarget(name: "KemuMetricsTests", dependencies: ["KemuMetrics"]),
        .testTarget(name: "KemuStoreTests", dependencies: ["KemuStore", "KemuAPI"]),
        .testTarget(name: "KemuRegistryTests", dependencies: ["KemuRegistry", "KemuAPI", "KemuStore"]),
        .testTarget(name: "KemuControllersTests", dependencies: ["KemuControllers", "KemuRegistry", "KemuStore", "KemuAPI"]),
        .testTarget(name: "KemuYAMLTests", dependencies: ["KemuYAML", "KemuAPI"]),
        .testTarget(name: "KemuClusterFileTests", dependencies: ["KemuClusterFile", "KemuControllers", "KemuAPI"]),
        .testTarget(name: "KemuServerTests", dependencies: ["KemuServer", "KemuAPI", "KemuStore", "KemuRegistry", "KemuHTTP"]),
    ]
)
