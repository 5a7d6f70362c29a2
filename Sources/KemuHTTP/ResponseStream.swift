import CMicroHTTPD
import Synchronization

/// A chunked response body fed from any thread. libmicrohttpd pulls bytes through the
/// reader callback; when nothing is pending the connection is suspended (no thread is
/// held), and `write` resumes it. Suspend and resume happen under one lock, so a resume
/// can never overtake its suspend.
public final class ResponseStream: Sendable {
    struct State: @unchecked Sendable {  // the connection pointer is only touched under the lock
        var pending: [UInt8] = []
        var offset = 0
        var suspended = false
        var finishing = false
        var closed = false
        var connection: OpaquePointer?
        var onClose: [@Sendable () -> Void] = []
    }

    let state = Mutex(State())
    /// Bytes queued but not yet handed to the socket, readable without the lock for back-pressure checks.
    let pendingCount = Atomic<Int>(0)

    init() {}

    /// Queues bytes; returns false if the stream is already finished or closed.
    @discardableResult
    public func write(_ bytes: [UInt8]) -> Bool {
        state.withLock { s in
            if s.closed || s.finishing { return false }
            s.pending.append(contentsOf: bytes)
            pendingCount.store(s.pending.count - s.offset, ordering: .relaxed)
            if s.suspended, let c = s.connection {
                s.suspended = false
                MHD_resume_connection(c)
            }
            return true
        }
    }

    /// Ends the body once pending bytes are sent.
    public func finish() {
        state.withLock { s in
            if s.closed || s.finishing { return }
            s.finishing = true
            if s.suspended, let c = s.connection {
                s.suspended = false
                MHD_resume_connection(c)
            }
        }
    }

    /// Resumes an idle stream so libmicrohttpd looks at its socket again: a client that left
    /// while the connection was suspended is noticed (and the stream closed) this way.
    public func wake() {
        state.withLock { s in
            if s.suspended, !s.closed, let c = s.connection {
                s.suspended = false
                MHD_resume_connection(c)
            }
        }
    }

    public var bytesPending: Int { pendingCount.load(ordering: .relaxed) }

    public var isClosed: Bool { state.withLock { $0.closed } }

    /// Runs once the connection is gone (client left, stream finished, or server stopping).
    public func onClose(_ body: @escaping @Sendable () -> Void) {
        let runNow = state.withLock { s -> Bool in
            if s.closed { return true }
            s.onClose.append(body)
            return false
        }
        if runNow { body() }
    }

    func attach(_ connection: OpaquePointer) {
        state.withLock { $0.connection = connection }
    }

    /// Reader callback body (MHD thread).
    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        state.withLock { s in
            let available = s.pending.count - s.offset
            if available == 0 {
                if s.finishing { return Int(MHD_CONTENT_READER_END_OF_STREAM) }
                s.suspended = true
                MHD_suspend_connection(s.connection)
                return 0
            }
            let n = Swift.min(available, max)
            s.pending.withUnsafeBufferPointer { p in
                UnsafeMutableRawPointer(buffer).copyMemory(from: p.baseAddress! + s.offset, byteCount: n)
            }
            s.offset += n
            if s.offset == s.pending.count {
                s.pending.removeAll(keepingCapacity: s.pending.capacity <= 65536)
                s.offset = 0
            } else if s.offset > 1 << 20 {
                s.pending.removeFirst(s.offset)
                s.offset = 0
            }
            pendingCount.store(s.pending.count - s.offset, ordering: .relaxed)
            return n
        }
    }

    /// Response free callback (MHD thread): the connection is gone.
    func markClosed() {
        let callbacks = state.withLock { s -> [@Sendable () -> Void] in
            s.closed = true
            s.connection = nil
            s.pending = []
            s.offset = 0
            let cbs = s.onClose
            s.onClose = []
            return cbs
        }
        pendingCount.store(0, ordering: .relaxed)
        for cb in callbacks { cb() }
    }
}
