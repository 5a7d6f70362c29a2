import FoundationEssentials
import Glibc
import KemuAPI
import KemuHTTP
import KemuRegistry
import KemuStore

/// GET of one object and LIST of a collection.
enum ReadHandler {
    static func get(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let format = try c.format()
        let obj = try s.storage.get(c.kind, namespace: c.namespace, name: c.resource.name!)
        switch format {
        case .json:
            return Respond.bytes(200, obj.bytes)
        case .table(let include):
            let meta: JSONObject = ["resourceVersion": .string(String(obj.resourceVersion))]
            return Respond.json(200, ListEncoder.table(kind: c.kind, objects: [obj.object], meta: meta, includeObject: include))
        }
    }

    static func list(_ s: APIServer, _ c: RequestContext) throws -> HTTPResponse {
        let opts = try ListOptions(c, watch: false)
        let format = try c.format()
        let filter = try ObjectFilter(c)
        var at: UInt64? = nil
        var after: String? = nil
        if let token = opts.continueToken {
            let decoded = try ContinueToken.decode(token)
            at = decoded.rv
            after = decoded.after
        } else if let rv = opts.resourceVersionNumber, rv > 0 {
            try waitForResourceVersion(s, rv)
            // Exact, and the legacy "rv with limit" form, read that version; otherwise the latest is newer.
            if opts.resourceVersionMatch == "Exact" || (opts.resourceVersionMatch == nil && opts.limit != nil) {
                at = rv
            }
        }
        let page: ListPage
        do {
            page = try s.store.list(c.kind.groupResource, namespace: c.kind.namespaced ? c.namespace : nil, at: at, after: after,
                                    limit: opts.limit, filter: filter.isEverything ? nil : { filter.matches($0) })
        } catch StoreError.expired(let requested, let compacted) {
            if opts.continueToken != nil {
                throw APIError.expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")
            }
            throw APIError.expired("too old resource version: \(requested) (\(compacted))")
        }
        let token = page.continueAfter.map { ContinueToken.encode(rv: page.resourceVersion, after: $0) }
        switch format {
        case .json:
            return Respond.bytes(200, ListEncoder.list(kind: c.kind, page: page, continueToken: token))
        case .table(let include):
            let meta = ListEncoder.listMeta(page: page, continueToken: token)
            return Respond.json(200, ListEncoder.table(kind: c.kind, objects: page.items.map(\.object), meta: meta, includeObject: include))
        }
    }

    /// A read at a resourceVersion the store has not reached waits up to 3 s, then fails like upstream.
    static func waitForResourceVersion(_ s: APIServer, _ rv: UInt64) throws {
        var waited = 0
        while s.store.currentResourceVersion < rv {
            if waited >= 3000 {
                var e = APIError(code: 504, reason: "Timeout",
                                 message: "Too large resource version: \(rv), current: \(s.store.currentResourceVersion)",
                                 causes: [.init(reason: "ResourceVersionTooLarge", message: "Too large resource version", field: "")],
                                 retryAfterSeconds: 1)
                e.kind = nil
                throw e
            }
            usleep(10_000)
            waited += 10
        }
    }
}
