/*
 * echo_upstream: a tiny HTTP upstream for the gateway's tests.
 *
 *   echo_upstream -p PORT -n NAME [-l LOGFILE]
 *
 * Every request's body is read and counted (never kept), then answered:
 *   ?bytes=N        N bytes of a repeating pattern, streamed (add &chunked=1
 *                   for chunked framing instead of Content-Length)
 *   ?sleep_ms=N     wait N ms before answering (slow upstream)
 *   ?status=N       answer with status N
 *   otherwise       text: upstream, method, path, query, body_bytes,
 *                   body_fnv (FNV-1a of the body), then "h <name>: <value>"
 *                   for every request header.
 * LOGFILE gets one line per request: "NAME METHOD URI body_bytes".
 * Listens on 127.0.0.1 only; one thread per connection.
 */
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <microhttpd.h>

#include "router/strbuf.h"

static const char *up_name = "upstream";
static FILE *up_log;

struct up_req {
    uint64_t body_bytes;
    uint64_t fnv;
    char    *uri;
    int      seen_first;
};

static void *up_uri_log(void *cls, const char *uri, struct MHD_Connection *c)
{
    (void)cls;
    (void)c;
    struct up_req *r = calloc(1, sizeof(*r));
    if (r != NULL) {
        r->fnv = 1469598103934665603ull;
        r->uri = strdup(uri);
    }
    return r;
}

static enum MHD_Result up_header(void *cls, enum MHD_ValueKind kind, const char *k, const char *v)
{
    (void)kind;
    strbuf_printf(cls, "h %s: %s\n", k, v ? v : "");
    return MHD_YES;
}

static ssize_t up_pattern(void *cls, uint64_t pos, char *buf, size_t max)
{
    uint64_t total = *(uint64_t *)cls;
    if (pos >= total)
        return MHD_CONTENT_READER_END_OF_STREAM;
    size_t n = total - pos < max ? (size_t)(total - pos) : max;
    for (size_t i = 0; i < n; i++)
        buf[i] = (char)('a' + (pos + i) % 26);
    return (ssize_t)n;
}

static const char *up_arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result up_answer(struct MHD_Connection *c, struct up_req *r, const char *url,
                                 const char *method)
{
    const char *bytes = up_arg(c, "bytes"), *sleep_ms = up_arg(c, "sleep_ms");
    const char *status = up_arg(c, "status");
    struct MHD_Response *resp;
    unsigned code = status ? (unsigned)atoi(status) : 200;

    if (up_log != NULL) {
        fprintf(up_log, "%s %s %s %llu\n", up_name, method, r->uri,
                (unsigned long long)r->body_bytes);
        fflush(up_log);
    }
    if (sleep_ms != NULL)
        usleep((useconds_t)atoi(sleep_ms) * 1000);
    if (bytes != NULL) {
        uint64_t *total = malloc(sizeof(*total));
        *total = strtoull(bytes, NULL, 10);
        int chunked = up_arg(c, "chunked") != NULL;
        resp = MHD_create_response_from_callback(chunked ? MHD_SIZE_UNKNOWN : *total, 64 * 1024,
                                                 up_pattern, total, free);
    } else {
        struct strbuf b;
        strbuf_init(&b);
        const char *q = strchr(r->uri, '?');
        strbuf_printf(&b, "upstream=%s\nmethod=%s\npath=%s\nquery=%s\nbody_bytes=%llu\n"
                      "body_fnv=%016llx\n", up_name, method, url, q ? q + 1 : "",
                      (unsigned long long)r->body_bytes, (unsigned long long)r->fnv);
        MHD_get_connection_values(c, MHD_HEADER_KIND, up_header, &b);
        resp = MHD_create_response_from_buffer(b.len, b.buf, MHD_RESPMEM_MUST_COPY);
        strbuf_deinit(&b);
        MHD_add_response_header(resp, "Content-Type", "text/plain");
    }
    MHD_add_response_header(resp, "X-Upstream", up_name);
    MHD_add_response_header(resp, "Keep-Alive", "timeout=5");
    MHD_add_response_header(resp, "X-Secret-Hop", "must-not-pass");
    MHD_add_response_header(resp, "Connection", "X-Secret-Hop");
    enum MHD_Result ret = MHD_queue_response(c, code, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result up_handler(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *data, size_t *size, void **req_cls)
{
    struct up_req *r = *req_cls;
    (void)cls;
    (void)version;
    if (r == NULL)
        return MHD_NO;
    if (*size > 0) {
        for (size_t i = 0; i < *size; i++)
            r->fnv = (r->fnv ^ (unsigned char)data[i]) * 1099511628211ull;
        r->body_bytes += *size;
        *size = 0;
        return MHD_YES;
    }
    if (r->uri == NULL)
        return MHD_NO;
    if (!r->seen_first) {       /* the first call: the body (if any) comes later */
        r->seen_first = 1;
        return MHD_YES;
    }
    return up_answer(c, r, url, method);
}

static void up_done(void *cls, struct MHD_Connection *c, void **req_cls,
                    enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)c;
    (void)toe;
    struct up_req *r = *req_cls;
    if (r != NULL) {
        free(r->uri);
        free(r);
    }
    *req_cls = NULL;
}

int main(int argc, char **argv)
{
    int port = 0, ch;
    const char *log_path = NULL;

    while ((ch = getopt(argc, argv, "p:n:l:")) != -1) {
        switch (ch) {
        case 'p': port = atoi(optarg); break;
        case 'n': up_name = optarg; break;
        case 'l': log_path = optarg; break;
        default:
            fprintf(stderr, "usage: echo_upstream -p PORT -n NAME [-l LOGFILE]\n");
            return 2;
        }
    }
    if (port <= 0) {
        fprintf(stderr, "usage: echo_upstream -p PORT -n NAME [-l LOGFILE]\n");
        return 2;
    }
    if (log_path != NULL && (up_log = fopen(log_path, "a")) == NULL) {
        perror(log_path);
        return 1;
    }
    sigset_t s;
    int sig;
    sigemptyset(&s);
    sigaddset(&s, SIGTERM);
    sigaddset(&s, SIGINT);
    pthread_sigmask(SIG_BLOCK, &s, NULL);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct MHD_Daemon *d = MHD_start_daemon(
        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL,
        up_handler, NULL, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sin,
        MHD_OPTION_URI_LOG_CALLBACK, up_uri_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, up_done, NULL,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "echo_upstream: cannot listen on 127.0.0.1:%d\n", port);
        return 1;
    }
    sigwait(&s, &sig);
    MHD_stop_daemon(d);
    if (up_log != NULL)
        fclose(up_log);
    return 0;
}
