/// One parsed HTTP request, independent of the engine that received it.
public struct HTTPRequest: Sendable {
    public var method: String
    /// The URL path without the query string, percent-decoded.
    public var path: String
    /// Query parameters in arrival order; a key given without `=` has an empty value.
    public var queryItems: [(name: String, value: String)]
    /// Header names are lower-cased.
    public var headers: [String: String]
    public var body: [UInt8]
    /// Set when the body exceeded the server's limit; `body` is then empty.
    public var bodyTooLarge: Bool

    public init(method: String, path: String, queryItems: [(name: String, value: String)] = [],
                headers: [String: String] = [:], body: [UInt8] = [], bodyTooLarge: Bool = false) {
        self.method = method; self.path = path; self.queryItems = queryItems
        self.headers = headers; self.body = body; self.bodyTooLarge = bodyTooLarge
    }

    /// The first value of a query parameter.
    public func query(_ name: String) -> String? {
        for item in queryItems where item.name == name { return item.value }
        return nil
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }
}

/// What a handler answers: a complete body, or a stream that the handler feeds later.
public struct HTTPResponse: Sendable {
    public enum Body: Sendable {
        case bytes([UInt8])
        /// Called once the stream exists, before any byte goes out; the handler keeps the stream and writes to it.
        case stream(@Sendable (ResponseStream) -> Void)
    }

    public var status: Int
    public var headers: [(String, String)]
    public var body: Body

    public init(status: Int, headers: [(String, String)] = [], body: Body = .bytes([])) {
        self.status = status; self.headers = headers; self.body = body
    }

    public static func text(_ status: Int, _ text: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: [("Content-Type", "text/plain; charset=utf-8")], body: .bytes(Array(text.utf8)))
    }
}

public protocol HTTPHandler: Sendable {
    func handle(_ request: HTTPRequest) -> HTTPResponse
}
