import FoundationEssentials
import KemuAPI
import KemuHTTP

/// Serves the OpenAPI v3 documents from `openapi/` and feeds their schemas to strategic merge patch.
final class OpenAPIDocuments: Sendable {
    struct Document: Sendable {
        let path: String      // "api/v1", "apis/apps/v1"
        let bytes: [UInt8]
        let hash: String
    }

    let documents: [String: Document]
    let indexBytes: [UInt8]
    let schemaIndex: OpenAPISchemaIndex?

    init(directory: String?) {
        var docs: [String: Document] = [:]
        var parsed: [JSON] = []
        if let dir = directory ?? Self.locateDirectory(),
           let files = try? FileManager.default.contentsOfDirectory(atPath: dir) {
            for f in files.sorted() where f.hasSuffix(".json") {
                guard let data = FileManager.default.contents(atPath: dir + "/" + f) else { continue }
                let bytes = Array(data)
                let path = String(f.dropLast(5)).replacing("__", with: "/")
                docs[path] = Document(path: path, bytes: bytes, hash: Self.hash(bytes))
                if let j = try? JSONParser.parse(bytes) { parsed.append(j) }
            }
        }
        documents = docs
        var paths = JSONObject()
        for (p, d) in docs.sorted(by: { $0.key < $1.key }) {
            paths[p] = ["serverRelativeURL": .string("/openapi/v3/\(p)?hash=\(d.hash)")]
        }
        indexBytes = JSONWriter.encode(["paths": .object(paths)])
        schemaIndex = parsed.isEmpty ? nil : OpenAPISchemaIndex(documents: parsed)
    }

    /// `openapi/` next to the repository the binary was built in, or under the install prefix.
    static func locateDirectory() -> String? {
        if let env = ProcessInfo.processInfo.environment["KEMU_OPENAPI_DIR"] { return env }
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        let candidates = [
            exe.appendingPathComponent("openapi"),
            exe.appendingPathComponent("../share/kemu/openapi"),
            exe.appendingPathComponent("../../openapi"),
            exe.appendingPathComponent("../../../openapi"),
            URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("openapi"),
        ]
        for c in candidates {
            let p = c.standardizedFileURL.path
            if FileManager.default.fileExists(atPath: p + "/api__v1.json") { return p }
        }
        return nil
    }

    /// FNV-1a, hex: stable per document content, like kube-openapi's per-document hash.
    static func hash(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        let s = String(h, radix: 16, uppercase: true)
        return String(repeating: "0", count: 16 - s.count) + s
    }

    func index() -> HTTPResponse {
        if documents.isEmpty { return Respond.error(.pathNotFound()) }
        return Respond.bytes(200, indexBytes)
    }

    func document(_ path: String) -> HTTPResponse {
        guard let d = documents[path] else { return Respond.error(.pathNotFound()) }
        return Respond.bytes(200, d.bytes, headers: [("Cache-Control", "public, immutable"), ("Etag", "\"\(d.hash)\"")])
    }
}
