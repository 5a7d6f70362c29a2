import CMicroHTTPD
import Glibc

/// Per-request state carried in libmicrohttpd's `req_cls` between calls of the access handler.
final class RequestContext {
    var body: [UInt8] = []
    var tooLarge = false
}

/// The C callbacks. They live in a plain enum in a non-main file so they are not
/// MainActor-isolated (libmicrohttpd calls them on its own threads).
enum MHDCallbacks {
    static let accessHandler: MHD_AccessHandlerCallback = { cls, connection, url, method, _, uploadData, uploadSize, reqCls in
        let server = Unmanaged<HTTPServer>.fromOpaque(cls!).takeUnretainedValue()
        guard let connection, let reqCls else { return .NO }
        if reqCls.pointee == nil {
            reqCls.pointee = Unmanaged.passRetained(RequestContext()).toOpaque()
            return .YES
        }
        let ctx = Unmanaged<RequestContext>.fromOpaque(reqCls.pointee!).takeUnretainedValue()
        if let uploadSize, uploadSize.pointee > 0 {
            let n = uploadSize.pointee
            if !ctx.tooLarge {
                if ctx.body.count + n > server.maxBodyBytes {
                    ctx.tooLarge = true
                    ctx.body = []
                } else if let uploadData {
                    uploadData.withMemoryRebound(to: UInt8.self, capacity: n) { p in
                        ctx.body.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
                    }
                }
            }
            uploadSize.pointee = 0
            return .YES
        }
        return server.dispatch(connection: connection, url: url, method: method, context: ctx)
    }

    static let requestCompleted: MHD_RequestCompletedCallback = { _, _, reqCls, _ in
        guard let reqCls, let p = reqCls.pointee else { return }
        Unmanaged<RequestContext>.fromOpaque(p).release()
        reqCls.pointee = nil
    }

    static let collectValue: MHD_KeyValueIterator = { cls, _, key, value in
        let box = Unmanaged<KeyValueBox>.fromOpaque(cls!).takeUnretainedValue()
        if let key {
            box.items.append((cString(key), value.map(cString) ?? ""))
        }
        return .YES
    }

    static let streamReader: MHD_ContentReaderCallback = { cls, _, buf, max in
        let stream = Unmanaged<ResponseStream>.fromOpaque(cls!).takeUnretainedValue()
        return stream.read(into: buf!, max: max)
    }

    static let streamFree: MHD_ContentReaderFreeCallback = { cls in
        let stream = Unmanaged<ResponseStream>.fromOpaque(cls!).takeRetainedValue()
        stream.markClosed()
    }

    static let logger: MHD_LogCallback = { _, fmt, args in
        guard let fmt, let args else { return }
        var buf = [CChar](repeating: 0, count: 1024)
        let n = vsnprintf(&buf, buf.count, fmt, args)
        guard n > 0 else { return }
        let msg = buf.withUnsafeBufferPointer { p in
            String(decoding: UnsafeRawBufferPointer(start: p.baseAddress, count: min(Int(n), p.count - 1)), as: UTF8.self)
        }
        // A client that went away is normal for watches; everything else goes to stderr.
        if msg.contains("closed by remote") || msg.contains("no longer available") || msg.contains("Failed to send") { return }
        writeStderr("kemu: libmicrohttpd: " + msg + (msg.hasSuffix("\n") ? "" : "\n"))
    }

    static func cString(_ p: UnsafePointer<CChar>) -> String {
        String(decoding: UnsafeRawBufferPointer(start: p, count: strlen(p)), as: UTF8.self)
    }
}

final class KeyValueBox {
    var items: [(String, String)] = []
}

func writeStderr(_ s: String) {
    var s = s
    s.withUTF8 { p in _ = Glibc.write(2, p.baseAddress, p.count) }
}
