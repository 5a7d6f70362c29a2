import FoundationEssentials
import Glibc
import KemuHTTP

/// Runs kemu as a process: binds, serves, and stops cleanly on SIGINT or SIGTERM.
public enum ServerRuntime {
    public struct Options: Sendable {
        public var address = "127.0.0.1"
        public var port = 8080
        public var threads = 2
        public var connectionLimit = 10_000
        public var server = ServerConfig()
        public init() {}
    }

    /// Blocks until a termination signal; returns the exit code.
    public static func run(_ options: Options) -> Int32 {
        // Block the signals before any thread starts so every thread inherits the mask and
        // this thread alone receives them through sigwait.
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGINT)
        sigaddset(&set, SIGTERM)
        pthread_sigmask(SIG_BLOCK, &set, nil)
        signal(SIGPIPE, SIG_IGN)
        raiseFileLimit()

        var config = options.server
        let api = APIServer(config: config)
        do {
            try api.start()
        } catch {
            writeStderr("kemu: cannot seed the store: \(error)\n")
            return 1
        }
        var httpOptions = HTTPServer.Options()
        httpOptions.address = options.address
        httpOptions.port = options.port
        httpOptions.threads = options.threads
        httpOptions.connectionLimit = options.connectionLimit
        httpOptions.maxBodyBytes = config.maxBodyBytes
        let http = HTTPServer(options: httpOptions, handler: api)
        do {
            try http.start()
        } catch {
            writeStderr("kemu: \(error)\n")
            return 1
        }
        // Start-up parses the OpenAPI documents into schema indexes; hand the parser's freed pages back.
        _ = kemu_malloc_trim(0)
        let port = http.boundAddressPort()
        config.advertisedAddress = "\(options.address):\(port)"
        let host = options.address.contains(":") ? "[\(options.address)]" : options.address
        let line = "kemu listening on http://\(host):\(port)\n"
        var bytes = Array(line.utf8)
        _ = Glibc.write(1, &bytes, bytes.count)

        var sig: Int32 = 0
        sigwait(&set, &sig)
        api.stop()
        http.stop()
        return 0
    }

    static func writeStderr(_ text: String) {
        var bytes = Array(text.utf8)
        _ = Glibc.write(2, &bytes, bytes.count)
    }

    static func raiseFileLimit() {
        var lim = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim) == 0, lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &lim)
        }
    }
}

/// glibc's malloc_trim (malloc.h is not part of the Glibc module map).
@_silgen_name("malloc_trim")
func kemu_malloc_trim(_ pad: Int) -> Int32
