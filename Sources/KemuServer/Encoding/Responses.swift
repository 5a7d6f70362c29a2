import KemuAPI
import KemuHTTP
import KemuStore

/// JSON response helpers shared by every handler.
enum Respond {
    static let jsonContentType = ("Content-Type", "application/json")

    static func json(_ status: Int, _ value: JSON, headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [jsonContentType] + headers, body: .bytes(JSONWriter.encode(value)))
    }

    static func bytes(_ status: Int, _ bytes: [UInt8], headers: [(String, String)] = []) -> HTTPResponse {
        HTTPResponse(status: status, headers: [jsonContentType] + headers, body: .bytes(bytes))
    }

    static func error(_ e: APIError, headers: [(String, String)] = []) -> HTTPResponse {
        var h = headers
        if let retry = e.retryAfterSeconds { h.append(("Retry-After", String(retry))) }
        return json(e.code, e.status, headers: h)
    }

    static func success(details: JSON? = nil) -> JSON {
        var o = JSONObject()
        o["kind"] = "Status"
        o["apiVersion"] = "v1"
        o["metadata"] = .object(JSONObject())
        o["status"] = "Success"
        if let details { o["details"] = details }
        return .object(o)
    }

    /// A `Warning: 299 - "…"` header value (RFC 7234 form, as kube-apiserver sends).
    static func warning(_ text: String) -> (String, String) {
        let escaped = text.replacing("\\", with: "\\\\").replacing("\"", with: "\\\"")
        return ("Warning", "299 - \"\(escaped)\"")
    }
}

/// What the client asked to receive, from its Accept header.
enum ResponseFormat {
    case json
    case table(includeObject: String)

    static func negotiate(accept: String?, includeObject: String?) throws -> ResponseFormat {
        guard let accept, !accept.isEmpty else { return .json }
        // Fast path for the common plain-JSON clients.
        if accept == "application/json" || accept == "*/*" { return .json }
        var acceptable = false
        for raw in accept.split(separator: ",") {
            let parts = raw.split(separator: ";").map { $0.trimmingWhitespace() }
            guard let mime = parts.first?.lowercased() else { continue }
            var params: [String: String] = [:]
            for p in parts.dropFirst() {
                let kv = p.split(separator: "=", maxSplits: 1).map(String.init)
                if kv.count == 2 { params[kv[0].lowercased()] = kv[1] }
            }
            if mime == "application/json", params["as"] == "Table", params["g"] == "meta.k8s.io", params["v"] == "v1" || params["v"] == "v1beta1" {
                let io = includeObject ?? "Metadata"
                return .table(includeObject: io)
            }
            if params["as"] != nil { continue }
            if ["application/json", "*/*", "application/*", "application/vnd.kubernetes.protobuf", "application/json;stream=watch",
                "application/vnd.kubernetes.protobuf;stream=watch"].contains(mime) {
                acceptable = true
            }
        }
        if !acceptable {
            throw APIError.notAcceptable(["application/json", "application/json;as=Table;v=v1;g=meta.k8s.io"])
        }
        return .json
    }
}

import FoundationEssentials
