import Glibc
import Synchronization

/// One object per thread, made on a thread's first use and released when the thread ends. Reading it takes
/// no lock and touches no memory another thread writes.
public final class PerThread<T: AnyObject>: @unchecked Sendable {
    let key: pthread_key_t
    let make: @Sendable () -> T

    public init(_ make: @escaping @Sendable () -> T) {
        var k = pthread_key_t()
        pthread_key_create(&k) { p in
            if let p { Unmanaged<AnyObject>.fromOpaque(p).release() }
        }
        key = k
        self.make = make
    }

    public var value: T {
        if let p = pthread_getspecific(key) { return Unmanaged<T>.fromOpaque(p).takeUnretainedValue() }
        let v = make()
        pthread_setspecific(key, Unmanaged.passRetained(v).toOpaque())
        return v
    }
}

/// A small number for the calling thread, handed out in turn: the shard of a metric child this thread updates.
public enum ThreadShard {
    public static let count = 64
    static let next = Atomic<Int>(0)
    static let key: pthread_key_t = {
        var k = pthread_key_t()
        pthread_key_create(&k, nil)
        return k
    }()

    public static var index: Int {
        if let p = pthread_getspecific(key) { return Int(bitPattern: p) &- 1 }
        let i = next.wrappingAdd(1, ordering: .relaxed).oldValue % count
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: i + 1))
        return i
    }
}

/// CLOCK_MONOTONIC in nanoseconds: what durations are measured with (cheaper than DispatchTime.now()).
public enum MonotonicClock {
    public static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }
}
