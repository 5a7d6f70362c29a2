import CMicroHTTPD
import Synchronization

/// A chunked response body fed from any thread. libmicrohttpd pulls bytes through the
/// reader callback; when nothing is pending the connection is suspended (no thread is
/// held), and `write` resumes it. Suspend and resume happen under one lock, so a resume
/// can never overtake its suspend.
public final class ResponseStream: Sendable {
    struct State: @unchecked Sendable {  // the connection pointer is only touched under the lock
        /// Queued chunks, shared (copy-on-write) with every other stream that got the same bytes:
        /// one event fanned out to many watchers is stored once.
        var pending: [[UInt8]] = []
        var head = 0          // index of the chunk being sent
        var offset = 0        // bytes of that chunk already sent
        var pendingBytes = 0
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
    public func write(_ bytes: [UInt8]) -> Bool { write([bytes]) }

    /// Queues several pieces at once, in order (shared, not copied).
    @discardableResult
    public func write(_ pieces: [[UInt8]]) -> Bool {
        state.withLock { s in
            if s.closed || s.finishing { return false }
            var added = 0
            for piece in pieces where !piece.isEmpty {
                s.pending.append(piece)
                added += piece.count
            }
            if added == 0 { return true }
            s.pendingBytes += added
            pendingCount.store(s.pendingBytes, ordering: .relaxed)
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

    /// Reader callback body (MHD thread): copies as many queued bytes as fit.
    func read(into buffer: UnsafeMutablePointer<CChar>, max: Int) -> Int {
        state.withLock { s in
            if s.pendingBytes == 0 {
                if s.finishing { return Int(MHD_CONTENT_READER_END_OF_STREAM) }
                s.suspended = true
                MHD_suspend_connection(s.connection)
                return 0
            }
            var written = 0
            let out = UnsafeMutableRawPointer(buffer)
            while written < max, s.head < s.pending.count {
                let n = s.pending[s.head].withUnsafeBytes { chunk -> Int in
                    let n = Swift.min(chunk.count - s.offset, max - written)
                    (out + written).copyMemory(from: chunk.baseAddress! + s.offset, byteCount: n)
                    return n
                }
                written += n
                s.offset += n
                if s.offset == s.pending[s.head].count {
                    s.head += 1
                    s.offset = 0
                }
            }
            s.pendingBytes -= written
            if s.head == s.pending.count {
                s.pending.removeAll(keepingCapacity: s.pending.capacity <= 64)
                s.head = 0
            } else if s.head > 256 {
                s.pending.removeFirst(s.head)
                s.head = 0
            }
            pendingCount.store(s.pendingBytes, ordering: .relaxed)
            return written
        }
    }

    /// Response free callback (MHD thread): the connection is gone.
    func markClosed() {
        let callbacks = state.withLock { s -> [@Sendable () -> Void] in
            s.closed = true
            s.connection = nil
            s.pending = []
            s.head = 0
            s.offset = 0
            s.pendingBytes = 0
            let cbs = s.onClose
            s.onClose = []
            return cbs
        }
        pendingCount.store(0, ordering: .relaxed)
        for cb in callbacks { cb() }
    }
}
