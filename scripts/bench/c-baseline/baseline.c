/*
 * Minimal libmicrohttpd server used as the C ceiling in kemu's benchmarks.
 *
 *   baseline PORT BODY_FILE [HEADERS_FILE]
 *
 * Answers every request with 200 and the bytes of BODY_FILE (Content-Type: application/json),
 * plus one extra header per "Name: value" line of HEADERS_FILE (so the response is the same
 * size as kemu's). The response object is built once and shared (MHD_RESPMEM_PERSISTENT):
 * this is the ceiling, with no per-request work at all.
 *
 * Same daemon settings as kemu (Sources/KemuHTTP/HTTPServer.swift): INTERNAL_POLLING_THREAD |
 * EPOLL | ALLOW_SUSPEND_RESUME | ERROR_LOG | TURBO, THREAD_POOL_SIZE 2, CONNECTION_LIMIT 10000,
 * CONNECTION_TIMEOUT 120 s, CONNECTION_MEMORY_LIMIT 16 KiB.
 * Prints "baseline listening on http://127.0.0.1:PORT" when it accepts connections
 * (PORT 0 = pick a free port), then waits for SIGINT/SIGTERM.
 *
 * Build: gcc -O2 -o baseline baseline.c $(pkg-config --cflags --libs libmicrohttpd)
 */
#include <stdint.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <pthread.h>
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <microhttpd.h>

static struct MHD_Response *g_response;

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload_data,
                               size_t *upload_data_size, void **req_cls) {
    (void)cls; (void)url; (void)method; (void)version; (void)upload_data;
    static int marker;
    if (*req_cls == NULL) {          /* first call: headers only (same two-call pattern as kemu) */
        *req_cls = &marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {    /* discard any request body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, g_response);
}

static char *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(2); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) { perror("read"); exit(2); }
    buf[n] = 0;
    fclose(f);
    *len = (size_t)n;
    return buf;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: %s PORT BODY_FILE [HEADERS_FILE]\n", argv[0]);
        return 2;
    }
    unsigned port = (unsigned)atoi(argv[1]);
    size_t body_len;
    char *body = read_file(argv[2], &body_len);
    g_response = MHD_create_response_from_buffer(body_len, body, MHD_RESPMEM_PERSISTENT);
    MHD_add_response_header(g_response, "Content-Type", "application/json");
    if (argc > 3) {
        size_t hlen;
        char *hdrs = read_file(argv[3], &hlen);
        for (char *line = strtok(hdrs, "\r\n"); line; line = strtok(NULL, "\r\n")) {
            char *colon = strchr(line, ':');
            if (!colon) continue;
            *colon = 0;
            char *value = colon + 1;
            while (*value == ' ') value++;
            if (strcasecmp(line, "content-type") == 0) continue;   /* already set */
            MHD_add_response_header(g_response, line, value);
        }
    }

    /* Block the signals before MHD starts its threads so that they inherit the mask. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    struct MHD_Daemon *d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, handler, NULL,
                                            MHD_OPTION_THREAD_POOL_SIZE, (unsigned)2,
                                            MHD_OPTION_CONNECTION_LIMIT, (unsigned)10000,
                                            MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)120,
                                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(16 * 1024),
                                            MHD_OPTION_END);
    if (!d) { fprintf(stderr, "MHD_start_daemon failed\n"); return 1; }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
    printf("baseline listening on http://127.0.0.1:%u\n", info ? (unsigned)info->port : port);
    fflush(stdout);

    int sig;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(g_response);
    free(body);
    return 0;
}
