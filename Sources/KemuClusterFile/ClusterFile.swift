import Foundation
import KemuControllers
import Yams

/// `kemu serve --cluster FILE.yaml`: a YAML file describing the simulated cluster (nodes, zones, pod network),
/// read into `ClusterOptions` on top of the command line's. The format is in README.md; `examples/cluster.yaml`
/// shows every key.
public enum ClusterFile {
    /// The settings that have a command-line flag too. A flag given explicitly together with a file that states
    /// the same setting is an error; a flag given for a setting the file leaves out applies.
    public enum Setting: String, CaseIterable, Sendable {
        case nodes, zones, clusterCIDR, ipFamily, podReadyDelay, maxPodsPerNode

        public var flag: String {
            switch self {
            case .nodes: "--nodes"
            case .zones: "--zones"
            case .clusterCIDR: "--cluster-cidr"
            case .ipFamily: "--ip-family"
            case .podReadyDelay: "--pod-ready-delay"
            case .maxPodsPerNode: "--max-pods-per-node"
            }
        }
    }

    public static let apiVersion = "kemu.dev/v1alpha1"

    /// Reads the file at `path`; `defaults` are the command line's settings, `flagsGiven` those given explicitly.
    public static func load(path: String, defaults: ClusterOptions, flagsGiven: Set<Setting> = []) throws(ClusterFileError) -> ClusterOptions {
        func fail(_ message: String) -> ClusterFileError { ClusterFileError(file: path, path: "", message: message) }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { throw fail("no such file") }
        guard !isDirectory.boolValue else { throw fail("is a directory") }
        guard let data = FileManager.default.contents(atPath: path) else { throw fail("cannot be read") }
        guard let text = String(data: data, encoding: .utf8) else { throw fail("is not UTF-8 text") }
        return try parse(text, file: path, defaults: defaults, flagsGiven: flagsGiven)
    }

    /// Reads a cluster file's text; `file` names it in errors.
    public static func parse(_ text: String, file: String, defaults: ClusterOptions,
                             flagsGiven: Set<Setting> = []) throws(ClusterFileError) -> ClusterOptions {
        var r = Reader(file: file, flagsGiven: flagsGiven)
        var o = defaults
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { throw r.syntaxError(error) }
        if let root { try r.read(root, into: &o) }
        do { try o.validate() } catch { throw r.fail(error.path, error.message) }
        return o
    }
}

/// What is wrong with a cluster file: the file, where in it (line, column and key path, when known) and the problem.
public struct ClusterFileError: Error, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    /// The key path (`nodes[1].zone`); empty for the file as a whole.
    public var path: String
    public var message: String

    public var description: String {
        var s = "cluster file \(file)"
        if let line { s += ", line \(line)" + (column.map { ", column \($0)" } ?? "") }
        return s + ": " + (path.isEmpty ? "" : path + ": ") + message
    }
}

/// Walks the YAML tree, remembering where each key path is for messages.
struct Reader {
    let file: String
    let flagsGiven: Set<ClusterFile.Setting>
    var marks: [String: Mark] = [:]
    var stated: Set<ClusterFile.Setting> = []

    init(file: String, flagsGiven: Set<ClusterFile.Setting>) {
        self.file = file
        self.flagsGiven = flagsGiven
    }

    /// An error at `path`, placed at the closest enclosing key path whose line is known.
    func fail(_ path: String, _ message: String) -> ClusterFileError {
        var p = Substring(path)
        while marks[String(p)] == nil, let cut = p.lastIndex(where: { $0 == "." || $0 == "[" }) { p = p[..<cut] }
        let mark = marks[String(p)]
        return ClusterFileError(file: file, line: mark?.line, column: mark?.column, path: path, message: message)
    }

    func syntaxError(_ error: any Error) -> ClusterFileError {
        var e = ClusterFileError(file: file, path: "", message: "not valid YAML")
        switch error as? YamlError {
        case let .scanner(context, problem, mark, _)?, let .parser(context, problem, mark, _)?, let .composer(context, problem, mark, _)?:
            (e.line, e.column) = (mark.line, mark.column)
            e.message = "not valid YAML: \(problem)" + (context.map { " (\($0.text), from line \($0.mark.line))" } ?? "")
        case let .duplicatedKeysInMapping(duplicates, context)?:
            (e.line, e.column) = (context.mark.line, context.mark.column)
            e.message = "a mapping repeats the key " + duplicates.map { "\"\($0)\"" }.joined(separator: ", ")
        case let .reader(problem, _, _, _)?:
            e.message = "not valid YAML: \(problem)"
        default:
            e.message = "not valid YAML: \(error)"
        }
        return e
    }

    static func join(_ path: String, _ key: String) -> String { path.isEmpty ? key : path + "." + key }

    /// A mapping's entries by key, after checking every key is one of `known`.
    mutating func mapping(_ node: Node, _ path: String, known: [String]) throws(ClusterFileError) -> [String: Node] {
        marks[path] = node.mark
        guard let m = node.mapping else { throw fail(path, "must be a mapping of \(known.joined(separator: ", "))") }
        var out: [String: Node] = [:]
        for (k, v) in m {
            let key = k.string ?? ""
            let p = Self.join(path, key)
            marks[p] = v.mark ?? k.mark
            guard known.contains(key) else {
                marks[p] = k.mark
                throw fail(p, "unknown key \"\(key)\"; known keys here: \(known.joined(separator: ", "))")
            }
            out[key] = v
        }
        return out
    }

    /// Any scalar but null, as written.
    mutating func string(_ node: Node, _ path: String) throws(ClusterFileError) -> String {
        marks[path] = node.mark
        guard let s = node.scalar else { throw fail(path, "must be a single value, not a \(node.mapping != nil ? "mapping" : "list")") }
        guard node.null == nil else { throw fail(path, "needs a value") }
        return s.string
    }

    mutating func int(_ node: Node, _ path: String, _ range: ClosedRange<Int>) throws(ClusterFileError) -> Int {
        marks[path] = node.mark
        guard let v = node.int else { throw fail(path, "must be a whole number") }
        guard range.contains(v) else { throw fail(path, "\(v): must be between \(range.lowerBound) and \(range.upperBound)") }
        return v
    }

    mutating func list(_ node: Node, _ path: String, of what: String) throws(ClusterFileError) -> [Node] {
        marks[path] = node.mark
        guard let s = node.sequence else { throw fail(path, "must be a list of \(what)") }
        return Array(s)
    }

    /// One value or a list of them; a single string may also list them comma-separated (as the flags do).
    mutating func strings(_ node: Node, _ path: String) throws(ClusterFileError) -> [String] {
        if node.sequence != nil {
            var out: [String] = []
            for (i, n) in try list(node, path, of: "strings").enumerated() { out.append(try string(n, "\(path)[\(i)]")) }
            return out
        }
        return try string(node, path).split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
    }

    /// The file states `setting` at `path`.
    mutating func state(_ setting: ClusterFile.Setting, _ path: String) throws(ClusterFileError) {
        if flagsGiven.contains(setting) {
            throw fail(path, "\(setting.flag) was given too; state this setting either in the file or on the command line")
        }
        stated.insert(setting)
    }

    static let topKeys = ["apiVersion", "kind", "clusterCIDR", "ipFamily", "nodeCIDRMaskSizeIPv4", "nodeCIDRMaskSizeIPv6",
                          "region", "podReadyDelay", "maxPodsPerNode", "nodeCapacity", "zones", "nodes"]

    mutating func read(_ root: Node, into o: inout ClusterOptions) throws(ClusterFileError) {
        let m = try mapping(root, "", known: Self.topKeys)
        if let n = m["apiVersion"], try string(n, "apiVersion") != ClusterFile.apiVersion {
            throw fail("apiVersion", "must be \(ClusterFile.apiVersion) (or left out)")
        }
        if let n = m["kind"], try string(n, "kind") != "Cluster" { throw fail("kind", "must be Cluster (or left out)") }
        if let n = m["clusterCIDR"] {
            try state(.clusterCIDR, "clusterCIDR")
            o.clusterCIDR = try strings(n, "clusterCIDR").joined(separator: ",")
        }
        if let n = m["ipFamily"] {
            try state(.ipFamily, "ipFamily")
            o.ipFamily = try string(n, "ipFamily")
            guard ClusterOptions.ipFamilies.contains(o.ipFamily) else {
                throw fail("ipFamily", "\"\(o.ipFamily)\" is not one of: \(ClusterOptions.ipFamilies.joined(separator: ", "))")
            }
        }
        if let n = m["nodeCIDRMaskSizeIPv4"] { o.nodeMaskV4 = try int(n, "nodeCIDRMaskSizeIPv4", 1...32) }
        if let n = m["nodeCIDRMaskSizeIPv6"] { o.nodeMaskV6 = try int(n, "nodeCIDRMaskSizeIPv6", 1...128) }
        if let n = m["region"] { o.region = try string(n, "region") }
        if let n = m["podReadyDelay"] {
            try state(.podReadyDelay, "podReadyDelay")
            marks["podReadyDelay"] = n.mark
            guard let v = n.float, v.isFinite else { throw fail("podReadyDelay", "must be a number of seconds") }
            o.podReadyDelay = v
        }
        if let n = m["maxPodsPerNode"] {
            try state(.maxPodsPerNode, "maxPodsPerNode")
            o.maxPodsPerNode = try int(n, "maxPodsPerNode", 1...250)
        }
        if let n = m["nodeCapacity"] {
            let c = try capacity(n, "nodeCapacity")
            o.nodeCPU = c.cpu ?? o.nodeCPU
            o.nodeMemory = c.memory ?? o.nodeMemory
            if let pods = c.pods {
                if m["maxPodsPerNode"] != nil { throw fail("nodeCapacity.pods", "maxPodsPerNode says the same; give one of them") }
                try state(.maxPodsPerNode, "nodeCapacity.pods")
                o.maxPodsPerNode = pods
            }
        }
        if let n = m["zones"] {
            try state(.zones, "zones")
            o.zones = try strings(n, "zones")
            if o.zones.isEmpty { throw fail("zones", "must list at least one zone") }
        }
        if stated.contains(.clusterCIDR) { try checkFamilies(&o) }
        if let n = m["nodes"] {
            try state(.nodes, "nodes")
            o.nodeSpecs = try nodes(n, zones: o.zones)
        }
    }

    /// `ipFamily` follows the ranges `clusterCIDR` names unless it is stated; stated, it must cover them.
    mutating func checkFamilies(_ o: inout ClusterOptions) throws(ClusterFileError) {
        let families = o.clusterCIDRFamilies
        if !stated.contains(.ipFamily), !flagsGiven.contains(.ipFamily) {
            o.ipFamily = Set(families).count == 2 ? "dual" : families.first ?? o.ipFamily
        } else if o.ipFamily != "dual", let other = families.first(where: { $0 != o.ipFamily }) {
            let source = stated.contains(.ipFamily) ? "ipFamily" : ClusterFile.Setting.ipFamily.flag
            throw fail("clusterCIDR", "names an \(other == "ipv6" ? "IPv6" : "IPv4") range, but \(source) is \(o.ipFamily)")
        }
    }

    mutating func capacity(_ node: Node, _ path: String) throws(ClusterFileError) -> (cpu: String?, memory: String?, pods: Int?) {
        let m = try mapping(node, path, known: ["cpu", "memory", "pods"])
        return (try m["cpu"].map { n throws(ClusterFileError) in try string(n, path + ".cpu") },
                try m["memory"].map { n throws(ClusterFileError) in try string(n, path + ".memory") },
                try m["pods"].map { n throws(ClusterFileError) in try int(n, path + ".pods", 1...250) })
    }

    static let nodeKeys = ["name", "namePrefix", "count", "zone", "labels", "taints", "capacity", "unschedulable", "podCIDR", "podCIDRs"]

    /// One `nodes:` entry: a node (`name`), or a group of `count` nodes named `namePrefix-1…`.
    struct Entry {
        var spec: NodeSpec
        var name: String?
        var prefix = "kemu-node"
        var count: Int?
        var zone: String?
    }

    /// `nodes:` as a number (that many nodes over the zones) or a list of nodes and groups, expanded to nodes.
    mutating func nodes(_ node: Node, zones: [String]) throws(ClusterFileError) -> [NodeSpec] {
        var entries: [Entry] = []
        if node.scalar != nil {
            marks["nodes"] = node.mark
            guard let count = node.int, count >= 0 else { throw fail("nodes", "must be a number of nodes or a list of nodes and node groups") }
            entries = [Entry(spec: NodeSpec(name: "", zone: "", origin: "nodes"), count: count)]
        } else {
            for (i, n) in try list(node, "nodes", of: "nodes and node groups").enumerated() { entries.append(try entry(n, "nodes[\(i)]")) }
        }
        let named = Set(entries.compactMap(\.name))
        var counters: [String: Int] = [:]
        var roundRobin = 0
        var out: [NodeSpec] = []
        for e in entries {
            for _ in 0..<(e.count ?? 1) {
                var s = e.spec
                if let name = e.name {
                    s.name = name
                } else {
                    repeat {
                        counters[e.prefix, default: 0] += 1
                        s.name = "\(e.prefix)-\(counters[e.prefix]!)"
                    } while named.contains(s.name)
                }
                if let zone = e.zone {
                    s.zone = zone
                } else {
                    s.zone = zones.isEmpty ? "zone-a" : zones[roundRobin % zones.count]
                    roundRobin += 1
                }
                out.append(s)
            }
        }
        return out
    }

    mutating func entry(_ node: Node, _ path: String) throws(ClusterFileError) -> Entry {
        let m = try mapping(node, path, known: Self.nodeKeys)
        var e = Entry(spec: NodeSpec(name: "", zone: "", origin: path))
        if let n = m["count"] { e.count = try int(n, path + ".count", 0...100_000) }
        if let n = m["name"] {
            if e.count != nil { throw fail(path + ".name", "a group (count) names its nodes with namePrefix") }
            e.name = try string(n, path + ".name")
        }
        if let n = m["namePrefix"] {
            if e.count == nil { throw fail(path + ".namePrefix", "names the nodes of a group; add count, or give this node a name") }
            e.prefix = try string(n, path + ".namePrefix")
        }
        if let n = m["zone"] { e.zone = try string(n, path + ".zone") }
        if let n = m["labels"] {
            let lp = path + ".labels"
            marks[lp] = n.mark
            guard let lm = n.mapping else { throw fail(lp, "must be a mapping of label keys to values") }
            for (k, v) in lm {
                let key = k.string ?? ""
                e.spec.labels[key] = try string(v, lp + "[\"\(key)\"]")
            }
        }
        if let n = m["taints"] {
            for (i, t) in try list(n, path + ".taints", of: "taints").enumerated() { e.spec.taints.append(try taint(t, path + ".taints[\(i)]")) }
        }
        if let n = m["capacity"] { (e.spec.cpu, e.spec.memory, e.spec.pods) = try capacity(n, path + ".capacity") }
        if let n = m["unschedulable"] {
            marks[path + ".unschedulable"] = n.mark
            guard let b = n.bool else { throw fail(path + ".unschedulable", "must be true or false") }
            e.spec.unschedulable = b
        }
        let cidrKeys = ["podCIDR", "podCIDRs"].filter { m[$0] != nil }
        if let key = cidrKeys.first {
            if cidrKeys.count == 2 { throw fail(path + ".podCIDRs", "give podCIDR or podCIDRs, not both") }
            if e.count != nil { throw fail(path + "." + key, "a group's nodes get the next free node subnets; give \(key) to single nodes") }
            e.spec.podCIDRs = try strings(m[key]!, path + "." + key)
        }
        return e
    }

    /// `{key, value, effect}` or kubectl's `key[=value]:Effect`.
    mutating func taint(_ node: Node, _ path: String) throws(ClusterFileError) -> NodeTaint {
        if node.scalar != nil {
            let text = try string(node, path)
            guard let colon = text.lastIndex(of: ":") else { throw fail(path, "\"\(text)\" is not key[=value]:Effect") }
            let kv = text[..<colon].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return NodeTaint(key: String(kv[0]), value: kv.count > 1 ? String(kv[1]) : "", effect: String(text[text.index(after: colon)...]))
        }
        let m = try mapping(node, path, known: ["key", "value", "effect"])
        guard let key = m["key"] else { throw fail(path, "needs a key") }
        guard let effect = m["effect"] else { throw fail(path, "needs an effect (NoSchedule, PreferNoSchedule or NoExecute)") }
        return NodeTaint(key: try string(key, path + ".key"), value: try m["value"].map { n throws(ClusterFileError) in try string(n, path + ".value") } ?? "",
                         effect: try string(effect, path + ".effect"))
    }
}
