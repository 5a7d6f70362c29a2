import Synchronization

/// A monotonically increasing count. Updating it is one relaxed atomic add.
public final class Counter: Sendable {
    let count = Atomic<UInt64>(0)

    init() {}

    public func inc(_ n: Int = 1) { count.wrappingAdd(UInt64(max(0, n)), ordering: .relaxed) }

    public var value: UInt64 { count.load(ordering: .relaxed) }
}

/// A value that goes up and down (integer-valued: depths, counts of objects or watchers).
public final class Gauge: Sendable {
    let current = Atomic<Int64>(0)

    init() {}

    public func inc(_ n: Int = 1) { current.wrappingAdd(Int64(n), ordering: .relaxed) }
    public func dec(_ n: Int = 1) { current.wrappingSubtract(Int64(n), ordering: .relaxed) }
    public func set(_ v: Int) { current.store(Int64(v), ordering: .relaxed) }

    public var value: Int64 { current.load(ordering: .relaxed) }
}

/// Observations counted into fixed buckets (upper bounds, `le`), with their sum. One observation is
/// two relaxed atomic adds and a compare-and-swap on the sum; no lock.
public final class Histogram: Sendable {
    final class Cell: Sendable { let n = Atomic<UInt64>(0) }

    public let bounds: [Double]
    /// One cell per bound plus the +Inf cell; each counts the observations of its bucket alone.
    let cells: [Cell]
    let sumBits = Atomic<UInt64>(0)

    init(bounds: [Double]) {
        self.bounds = bounds
        cells = (0...bounds.count).map { _ in Cell() }
    }

    public func observe(_ v: Double) {
        var i = 0
        while i < bounds.count, v > bounds[i] { i += 1 }
        cells[i].n.wrappingAdd(1, ordering: .relaxed)
        var old = sumBits.load(ordering: .relaxed)
        while true {
            let (done, seen) = sumBits.compareExchange(expected: old, desired: (Double(bitPattern: old) + v).bitPattern,
                                                       ordering: .relaxed)
            if done { return }
            old = seen
        }
    }

    /// Observes a duration given in nanoseconds, in seconds.
    public func observe(nanos: UInt64) { observe(Double(nanos) / 1e9) }

    public var sum: Double { Double(bitPattern: sumBits.load(ordering: .relaxed)) }
    public var count: UInt64 { cells.reduce(0) { $0 + $1.n.load(ordering: .relaxed) } }

    /// Per-bucket counts (not cumulative), the +Inf bucket last.
    var bucketCounts: [UInt64] { cells.map { $0.n.load(ordering: .relaxed) } }

    /// `count` buckets from `start`, each `factor` times the previous (Prometheus' ExponentialBuckets).
    public static func exponentialBuckets(start: Double, factor: Double, count: Int) -> [Double] {
        var out: [Double] = []
        var v = start
        for _ in 0..<count {
            out.append(v)
            v *= factor
        }
        return out
    }

    /// Prometheus' default buckets (DefBuckets).
    public static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]
}

public enum MetricType: String, Sendable {
    case counter, gauge, histogram
}

/// Something the registry can snapshot for a scrape.
protocol SnapshotSource: Sendable {
    var name: String { get }
    func snapshot() -> FamilySnapshot
}

/// Every series of one metric name, one child per set of label values. Look a child up once and keep it
/// where the labels are fixed; `labels(...)` takes a lock and hashes the values.
///
/// A series may be split into shards, one per thread (`threadChild`), that a scrape adds up: counters and
/// histograms that several threads update all the time then never share memory between them.
public final class Family<Child: Sendable>: SnapshotSource, Sendable {
    public let name: String
    public let help: String
    public let type: MetricType
    public let labelNames: [String]
    let make: @Sendable () -> Child
    let read: @Sendable (Child) -> SampleValue

    struct Key: Hashable {
        var values: [String]
        var shard: Int
    }
    let children = Mutex<[Key: Child]>([:])

    init(name: String, help: String, type: MetricType, labelNames: [String],
         make: @escaping @Sendable () -> Child, read: @escaping @Sendable (Child) -> SampleValue) {
        self.name = name; self.help = help; self.type = type; self.labelNames = labelNames
        self.make = make; self.read = read
    }

    /// The child for these label values, in the order of `labelNames` (created at 0 on first use).
    public func labels(_ values: String...) -> Child { child(values) }

    public func child(_ values: [String]) -> Child { child(values, shard: 0) }

    /// The calling thread's shard of the series (for counters and histograms; a gauge's shards would add up).
    public func threadChild(_ values: [String]) -> Child { child(values, shard: ThreadShard.index + 1) }

    func child(_ values: [String], shard: Int) -> Child {
        precondition(values.count == labelNames.count, "\(name): \(labelNames.count) label values expected, got \(values.count)")
        let key = Key(values: values, shard: shard)
        return children.withLock { d in
            if let c = d[key] { return c }
            let c = make()
            d[key] = c
            return c
        }
    }

    func snapshot() -> FamilySnapshot {
        let all = children.withLock { Array($0) }
        var merged: [[String]: SampleValue] = [:]
        for (key, child) in all {
            let v = read(child)
            merged[key.values] = merged[key.values].map { $0 + v } ?? v
        }
        return FamilySnapshot(name: name, help: help, type: type, labelNames: labelNames,
                              samples: merged.map { Sample(labels: $0.key, value: $0.value) })
    }
}

/// The metrics of a process. Families register once by name; asking again for a name returns the same family.
public final class MetricsRegistry: Sendable {
    /// The process-wide registry that kemu's components report to and `/metrics` shows.
    public static let shared = MetricsRegistry()

    let families = Mutex<[String: any SnapshotSource]>([:])

    public init() {}

    public func counter(_ name: String, help: String, labels: [String] = []) -> Family<Counter> {
        register(name, labels: labels) {
            Family(name: name, help: help, type: .counter, labelNames: labels, make: { Counter() },
                   read: { .scalar(Double($0.value)) })
        }
    }

    public func gauge(_ name: String, help: String, labels: [String] = []) -> Family<Gauge> {
        register(name, labels: labels) {
            Family(name: name, help: help, type: .gauge, labelNames: labels, make: { Gauge() },
                   read: { .scalar(Double($0.value)) })
        }
    }

    public func histogram(_ name: String, help: String, labels: [String] = [], buckets: [Double]) -> Family<Histogram> {
        let bounds = buckets.sorted()
        return register(name, labels: labels) {
            Family(name: name, help: help, type: .histogram, labelNames: labels, make: { Histogram(bounds: bounds) },
                   read: { .histogram(bounds: $0.bounds, counts: $0.bucketCounts, sum: $0.sum) })
        }
    }

    func register<C>(_ name: String, labels: [String], _ make: () -> Family<C>) -> Family<C> {
        families.withLock { f in
            if let existing = f[name] {
                guard let same = existing as? Family<C>, same.labelNames == labels else {
                    preconditionFailure("metric \(name) registered twice with different types or labels")
                }
                return same
            }
            let family = make()
            f[name] = family
            return family
        }
    }

    /// Every family with at least one series.
    public func snapshot() -> [FamilySnapshot] {
        let all = families.withLock { Array($0.values) }
        return all.map { $0.snapshot() }.filter { !$0.samples.isEmpty }
    }

    /// The Prometheus text exposition of this registry plus `extra` families computed by the caller.
    public func exposition(extra: [FamilySnapshot] = []) -> [UInt8] {
        Exposition.render(snapshot() + extra)
    }
}
