import ArgumentParser
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
    @Option(help: "Simulated nodes kemu creates at start (kemu-node-1…N).") var nodes = 3
    @Option(help: "Zones the simulated nodes are spread over, comma-separated.") var zones = "zone-a,zone-b,zone-c"
    @Option(help: "Pod network; each simulated node gets a /24 (IPv4) or /64 (IPv6) of it. v4,v6 for dual stack.") var clusterCidr = "10.244.0.0/16"
    @Option(help: "Pod IP families: ipv4, ipv6 or dual.") var ipFamily = "ipv4"
    @Option(help: "Seconds between a simulated pod starting and turning Ready.") var podReadyDelay = 0.0
    @Option(help: "Pods a simulated node accepts.") var maxPodsPerNode = 110
    @Flag(inversion: .prefixedNo, help: "Bind pods without spec.nodeName to a node (--no-scheduler leaves them Pending).") var scheduler = true

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard eventHistory >= 1 else { throw ValidationError("--event-history must be at least 1") }
        guard maxBodyBytes >= 1024 else { throw ValidationError("--max-body-bytes must be at least 1024") }
        guard terminationGraceScale >= 0 else { throw ValidationError("--termination-grace-scale must not be negative") }
        guard (1...1000).contains(maxEndpointsPerSlice) else { throw ValidationError("--max-endpoints-per-slice must be between 1 and 1000") }
        guard endpointUpdatesBatchPeriod >= 0 else { throw ValidationError("--endpoint-updates-batch-period must not be negative") }
        guard mirroringMaxEndpointsPerSubset >= 1 else { throw ValidationError("--mirroring-max-endpoints-per-subset must be at least 1") }
        guard nodes >= 0 else { throw ValidationError("--nodes must not be negative") }
        guard ["ipv4", "ipv6", "dual"].contains(ipFamily) else { throw ValidationError("--ip-family must be one of: ipv4, ipv6, dual") }
        guard podReadyDelay >= 0 else { throw ValidationError("--pod-ready-delay must not be negative") }
        guard (1...250).contains(maxPodsPerNode) else { throw ValidationError("--max-pods-per-node must be between 1 and 250") }
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
        o.server.controllers.cluster.nodes = nodes
        o.server.controllers.cluster.zones = zones.split(separator: ",").map(String.init)
        o.server.controllers.cluster.clusterCIDR = clusterCidr
        o.server.controllers.cluster.ipFamily = ipFamily
        o.server.controllers.cluster.podReadyDelay = podReadyDelay
        o.server.controllers.cluster.maxPodsPerNode = maxPodsPerNode
        o.server.controllers.cluster.schedulerEnabled = scheduler
        let code = ServerRuntime.run(o)
        if code != 0 { throw ExitCode(code) }
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
