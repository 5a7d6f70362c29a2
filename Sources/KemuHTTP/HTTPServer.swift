import CMicroHTTPD
import Glibc
import Synchronization

public struct HTTPServerError: Error, CustomStringConvertible {
    public let description: String
}

/// An HTTP/1.1 server on libmicrohttpd: epoll with an internal thread pool, an explicit
/// connection limit, and suspend/resume streaming so a watch holds no thread.
public final class HTTPServer: Sendable {
    public struct Options: Sendable {
        public var address: String = "127.0.0.1"
        public var port: Int = 8080
        public var threads: Int = 2
        /// libmicrohttpd's silent default is 1020; clients beyond the limit hang in the backlog.
        public var connectionLimit: Int = 10_000
        /// Seconds an idle keep-alive connection may stay open (suspended streams are exempt).
        public var connectionTimeout: Int = 120
        public var maxBodyBytes: Int = 3 * 1024 * 1024
        public init() {}
    }

    let handler: any HTTPHandler
    let options: Options
    var maxBodyBytes: Int { options.maxBodyBytes }
    struct DaemonBox: @unchecked Sendable { var daemon: OpaquePointer?; var listenFD: Int32 = -1 }
    let daemon = Mutex(DaemonBox())
    let openStreams = Mutex([ObjectIdentifier: ResponseStream]())
    let boundPort = Atomic<Int>(0)

    public init(options: Options, handler: any HTTPHandler) {
        self.options = options
        self.handler = handler
    }

    public var port: Int { boundPort.load(ordering: .relaxed) }

    /// Binds, listens and starts the daemon; returns the bound port.
    @discardableResult
    public func start() throws -> Int {
        let fd = try Self.listen(address: options.address, port: options.port)
        var options: [MHD_OptionItem] = [
            MHD_OptionItem(option: .EXTERNAL_LOGGER, value: unsafeBitCast(MHDCallbacks.logger, to: Int.self), ptr_value: nil),
            MHD_OptionItem(option: .NOTIFY_COMPLETED, value: unsafeBitCast(MHDCallbacks.requestCompleted, to: Int.self), ptr_value: nil),
            MHD_OptionItem(option: .LISTEN_SOCKET, value: Int(fd), ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_LIMIT, value: self.options.connectionLimit, ptr_value: nil),
            MHD_OptionItem(option: .CONNECTION_TIMEOUT, value: self.options.connectionTimeout, ptr_value: nil),
            MHD_OptionItem(option: .THREAD_POOL_SIZE, value: max(1, self.options.threads), ptr_value: nil),
            // The per-connection pool holds request headers and response framing; libmicrohttpd
            // clears it between keep-alive requests, so a small pool is faster and keeps watches cheap.
            MHD_OptionItem(option: .CONNECTION_MEMORY_LIMIT, value: 16 * 1024, ptr_value: nil),
            MHD_OptionItem(option: .END, value: 0, ptr_value: nil),
        ]
        let flags = MHD_USE_ERROR_LOG.rawValue | MHD_USE_INTERNAL_POLLING_THREAD.rawValue | MHD_USE_EPOLL.rawValue
            | MHD_ALLOW_SUSPEND_RESUME.rawValue | MHD_USE_TURBO.rawValue
        // The daemon keeps an unretained pointer to self; `stop` must run before self goes away.
        let selfPtr = Unmanaged.passUnretained(self).toOpaque()
        let d = options.withUnsafeMutableBufferPointer { o in
            withVaList([MHD_OPTION.ARRAY.rawValue, o.baseAddress!, MHD_OPTION.END.rawValue]) { va in
                MHD_start_daemon_va(flags, 0, nil, nil, MHDCallbacks.accessHandler, selfPtr, va)
            }
        }
        guard let d else {
            close(fd)
            throw HTTPServerError(description: "libmicrohttpd failed to start on \(self.options.address):\(self.options.port)")
        }
        daemon.withLock { $0 = DaemonBox(daemon: d, listenFD: fd) }
        return port
    }

    /// Ends every open stream, waits briefly for their connections to close, then stops the daemon.
    public func stop() {
        let streams = openStreams.withLock { Array($0.values) }
        for s in streams { s.finish() }
        var waited = 0
        while waited < 3000, !openStreams.withLock({ $0.isEmpty }) {
            usleep(2000)
            waited += 2
        }
        let box = daemon.withLock { b -> DaemonBox in
            let old = b
            b = DaemonBox()
            return old
        }
        if let d = box.daemon { MHD_stop_daemon(d) }
        if box.listenFD >= 0 { close(box.listenFD) }
    }

    static func listen(address: String, port: Int) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var res: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(address, String(port), &hints, &res)
        guard rc == 0, let ai = res else {
            throw HTTPServerError(description: "cannot resolve listen address \(address): \(String(cString: gai_strerror(rc)))")
        }
        defer { freeaddrinfo(res) }
        let fd = socket(ai.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw HTTPServerError(description: "socket(): \(String(cString: strerror(errno)))") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        guard bind(fd, ai.pointee.ai_addr, ai.pointee.ai_addrlen) == 0 else {
            let msg = String(cString: strerror(errno))
            close(fd)
            throw HTTPServerError(description: "cannot listen on \(address):\(port): \(msg)")
        }
        guard Glibc.listen(fd, 4096) == 0 else {
            let msg = String(cString: strerror(errno))
            close(fd)
            throw HTTPServerError(description: "listen(): \(msg)")
        }
        return fd
    }

    /// The bound port (after `start`), read back from the socket.
    public func boundAddressPort() -> Int {
        let fd = daemon.withLock { $0.listenFD }
        var storage = sockaddr_storage()
        var len = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        guard ok == 0 else { return 0 }
        let p: UInt16
        if Int32(storage.ss_family) == AF_INET6 {
            p = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { $0.pointee.sin6_port } }
        } else {
            p = withUnsafePointer(to: &storage) { $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { $0.pointee.sin_port } }
        }
        let port = Int(UInt16(bigEndian: p))
        boundPort.store(port, ordering: .relaxed)
        return port
    }

    // MARK: request dispatch (MHD threads)

    func dispatch(connection: OpaquePointer, url: UnsafePointer<CChar>?, method: UnsafePointer<CChar>?,
                  context: RequestContext) -> MHD_Result {
        let headers = KeyValueBox()
        let query = KeyValueBox()
        let hp = Unmanaged.passUnretained(headers).toOpaque()
        let qp = Unmanaged.passUnretained(query).toOpaque()
        MHD_get_connection_values(connection, .HEADER_KIND, MHDCallbacks.collectValue, hp)
        MHD_get_connection_values(connection, .GET_ARGUMENT_KIND, MHDCallbacks.collectValue, qp)
        var headerMap: [String: String] = [:]
        for (k, v) in headers.items {
            let key = k.lowercased()
            if let existing = headerMap[key] { headerMap[key] = existing + "," + v } else { headerMap[key] = v }
        }
        let request = HTTPRequest(
            method: method.map(MHDCallbacks.cString) ?? "GET",
            path: url.map(MHDCallbacks.cString) ?? "/",
            queryItems: query.items.map { (name: $0.0, value: $0.1) },
            headers: headerMap,
            body: context.body,
            bodyTooLarge: context.tooLarge)
        context.body = []
        let response = handler.handle(request)
        return queue(response, on: connection)
    }

    func queue(_ response: HTTPResponse, on connection: OpaquePointer) -> MHD_Result {
        let mhdResponse: OpaquePointer?
        switch response.body {
        case .bytes(let bytes):
            mhdResponse = bytes.withUnsafeBytes { p in
                MHD_create_response_from_buffer(p.count, UnsafeMutableRawPointer(mutating: p.baseAddress), .RESPMEM_MUST_COPY)
            }
        case .stream(let open):
            let stream = ResponseStream()
            stream.attach(connection)
            let id = ObjectIdentifier(stream)
            openStreams.withLock { $0[id] = stream }
            stream.onClose { [weak self] in _ = self?.openStreams.withLock { $0.removeValue(forKey: id) } }
            open(stream)
            let ctx = Unmanaged.passRetained(stream).toOpaque()
            mhdResponse = MHD_create_response_from_callback(UInt64.max, 8 * 1024, MHDCallbacks.streamReader, ctx, MHDCallbacks.streamFree)
            if mhdResponse == nil { Unmanaged<ResponseStream>.fromOpaque(ctx).release(); stream.markClosed() }
        }
        guard let r = mhdResponse else { return .NO }
        for (k, v) in response.headers { MHD_add_response_header(r, k, v) }
        let ret = MHD_queue_response(connection, UInt32(response.status), r)
        MHD_destroy_response(r)
        return ret
    }
}
