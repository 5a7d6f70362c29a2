import ArgumentParser
import Foundation
import KemuClusterFile
import KemuControllers
import KemuServer

struct Kemu: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kemu",
        abstract: "A fast Kubernetes API emulator for the service-discovery story.",
        subcommands: [Serve.self, Kubeconfig.self],
        defaultSubcommand: Serve.self)
}

struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the Kubernetes API.")

    @Option(help: "Address to listen on.") var address = "127.0.0.1"
    @Option(help: "Port to listen on (0 picks a free port).") var port = 8080
    @Option(help: "HTTP worker threads.") var threads = 2
    @Option(help: "Maximum simultaneous connections (watches included).") var connectionLimit = 10_000
    @Option(help: "How many events the watch history keeps.") var eventHistory = 10_000
    @Option(help: "How long an Event is kept after its last write: a duration such as 1h, 10m, 30s or 500ms (0 keeps events).")
    var eventTtl = "1h"
    @Option(help: "Seconds between BOOKMARK events on watches that allow them.") var watchBookmarkInterval = 60.0
    @Option(help: "Unsent bytes after which a slow watcher is ended.") var watchBufferBytes = 16 * 1024 * 1024
    @Option(help: "Largest request body accepted, in bytes.") var maxBodyBytes = 3 * 1024 * 1024
    @Option(help: "Service ClusterIP range (IPv4).") var serviceCIDR = "10.96.0.0/12"
    @Option(help: "Multiplies pod termination grace periods (0 ends terminating pods at once).") var terminationGraceScale = 0.0
    @Option(help: "Directory with the OpenAPI v3 documents (default: found next to the binary).") var openapiDir: String?
    @Option(help: "Most endpoints the EndpointSlice controller puts in one slice (1-1000).") var maxEndpointsPerSlice = 100
    @Option(help: "Seconds pod-triggered EndpointSlice/Endpoints syncs wait so bursts coalesce.") var endpointUpdatesBatchPeriod = 0.0
    @Flag(help: "Turn the legacy Endpoints controller off.") var disableEndpointsController = false
    @Option(help: "Most endpoints per subset the mirroring controller copies into one slice.") var mirroringMaxEndpointsPerSubset = 1000
    @Option(help: "Client writes to controller-managed EndpointSlices/Endpoints: reject (403), warn (accept with a Warning, then reconcile back) or allow.")
    var derivedWrites = "reject"
    // The cluster-shaping options are optional so that one given explicitly can be told from its default:
    // with --cluster, a flag and the file may not both state a setting.
    @Option(help: "YAML file describing the simulated cluster: nodes, zones, pod network (see README).") var cluster: String?
    @Option(help: "Simulated nodes kemu creates at start (kemu-node-1…N). (default: 3)") var nodes: Int?
    @Option(help: "Zones the simulated nodes are spread over, comma-separated. (default: zone-a,zone-b,zone-c)") var zones: String?
    @Option(help: "Pod network; each simulated node gets a /24 (IPv4) or /64 (IPv6) of it. v4,v6 for dual stack. (default: 10.244.0.0/16)")
    var clusterCidr: String?
    @Option(help: "Pod IP families: ipv4, ipv6 or dual. (default: ipv4)") var ipFamily: String?
    @Option(help: "Seconds between a simulated pod starting and turning Ready. (default: 0)") var podReadyDelay: Double?
    @Option(help: "Pods a simulated node accepts. (default: 110)") var maxPodsPerNode: Int?
    @Flag(inversion: .prefixedNo, help: "Bind pods without spec.nodeName to a node (--no-scheduler leaves them Pending).") var scheduler = true

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard eventHistory >= 1 else { throw ValidationError("--event-history must be at least 1") }
        guard GoDuration.seconds(eventTtl) != nil else {
            throw ValidationError("--event-ttl: invalid duration \"\(eventTtl)\" (use e.g. 1h, 10m, 30s, 500ms)")
        }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard terminationGraceScale >= 0 else { throw ValidationError("--termination-grace-scale must not be negative") }
        guard (1...1000).contains(maxEndpointsPerSlice) else { throw ValidationError("--max-endpoints-per-slice must be between 1 and 1000") }
        guard endpointUpdatesBatchPeriod >= 0 else { throw ValidationError("--endpoint-updates-batch-period must not be negative") }
        guard mirroringMaxEndpointsPerSubset >= 1 else { throw ValidationError("--mirroring-max-endpoints-per-subset must be at least 1") }
        guard (nodes ?? 0) >= 0 else { throw ValidationError("--nodes must not be negative") }
        guard ClusterOptions.ipFamilies.contains(ipFamily ?? "ipv4") else { throw ValidationError("--ip-family must be one of: ipv4, ipv6, dual") }
        guard (podReadyDelay ?? 0) >= 0 else { throw ValidationError("--pod-ready-delay must not be negative") }
        guard (1...250).contains(maxPodsPerNode ?? 110) else { throw ValidationError("--max-pods-per-node must be between 1 and 250") }
        guard DerivedWritePolicy(rawValue: derivedWrites) != nil else {
            throw ValidationError("--derived-writes must be one of: reject, warn, allow")
        }
    }

    func run() throws {
        var o = ServerRuntime.Options()
        o.address = address
        o.port = port
        o.threads = threads
        o.connectionLimit = connectionLimit
        o.server.eventHistory = eventHistory
        o.server.eventTTLSeconds = GoDuration.seconds(eventTtl)!
        o.server.watchBookmarkIntervalSeconds = watchBookmarkInterval
        o.server.maxWatchBufferBytes = watchBufferBytes
        o.server.maxBodyBytes = maxBodyBytes
        o.server.serviceCIDR = serviceCIDR
        o.server.terminationGraceScale = terminationGraceScale
        o.server.openAPIDirectory = openapiDir
        o.server.controllers.maxEndpointsPerSlice = maxEndpointsPerSlice
        o.server.controllers.endpointUpdatesBatchPeriod = endpointUpdatesBatchPeriod
        o.server.controllers.endpointsControllerEnabled = !disableEndpointsController
        o.server.controllers.mirroringMaxEndpointsPerSubset = mirroringMaxEndpointsPerSubset
        o.server.derivedWrites = DerivedWritePolicy(rawValue: derivedWrites)!
        o.server.controllers.cluster = try clusterOptions()
        let code = ServerRuntime.run(o)
        if code != 0 { throw ExitCode(code) }
    }
}

extension Serve {
    /// The simulated cluster from the flags, then the cluster file on top. A problem with either is reported
    /// on stderr (naming the file, key path and problem) and kemu exits 2 before it listens.
    func clusterOptions() throws -> ClusterOptions {
        var c = ClusterOptions()
        if let nodes { c.nodes = nodes }
        if let zones { c.zones = zones.split(separator: ",").map(String.init) }
        if let clusterCidr { c.clusterCIDR = clusterCidr }
        if let ipFamily { c.ipFamily = ipFamily }
        if let podReadyDelay { c.podReadyDelay = podReadyDelay }
        if let maxPodsPerNode { c.maxPodsPerNode = maxPodsPerNode }
        c.schedulerEnabled = scheduler
        do {
            if let cluster {
                let given: [(ClusterFile.Setting, Bool)] = [(.nodes, nodes != nil), (.zones, zones != nil), (.clusterCIDR, clusterCidr != nil),
                    (.ipFamily, ipFamily != nil), (.podReadyDelay, podReadyDelay != nil), (.maxPodsPerNode, maxPodsPerNode != nil)]
                return try ClusterFile.load(path: cluster, defaults: c, flagsGiven: Set(given.filter(\.1).map(\.0)))
            }
            try c.validate()
            return c
        } catch let e as ClusterFileError {
            FileHandle.standardError.write(Data("kemu: \(e)\n".utf8))
        } catch let e as ClusterProblem {
            let flag = ClusterFile.Setting(rawValue: String(e.path.prefix { $0 != "[" && $0 != "." }))?.flag ?? e.path
            FileHandle.standardError.write(Data("kemu: \(flag): \(e.message)\n".utf8))
        }
        throw ExitCode(2)
    }
}

struct Kubeconfig: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print a kubeconfig that points kubectl at kemu.")

    @Option(help: "The kemu URL.") var server = "http://127.0.0.1:8080"
    @Option(help: "Default namespace of the context.") var namespace = "default"

    func run() throws {
        print("""
        apiVersion: v1
        kind: Config
        clusters:
        - name: kemu
          cluster:
            server: \(server)
        users:
        - name: kemu
          user:
            token: kemu
        contexts:
        - name: kemu
          context:
            cluster: kemu
            user: kemu
            namespace: \(namespace)
        current-context: kemu
        preferences: {}
        """)
    }
}

Kemu.main()
