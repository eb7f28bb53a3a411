/*
 * Unit tests for gateway/gw_upstream: the curl multi handle driven from an
 * epoll loop (as gw_worker runs it), against tiny upstreams on loopback
 * (ports 18950-18959): an answer and a kept-alive connection, a refused
 * connection (502 material), a silent upstream (504), and stop.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gateway/gw_upstream.h"

#define TAG (UINT64_C(3) << 32)

struct loop {
    int epfd;
    struct gw_metrics m;
    struct gw_upstream *up;
};

static int loop_setup(void **state)
{
    static struct loop l;
    char err[256];

    l.epfd = epoll_create1(0);
    gw_metrics_init(&l.m);
    l.up = gw_upstream_create(l.epfd, TAG, &l.m, err, sizeof(err));
    if (l.epfd < 0 || l.up == NULL)
        return -1;
    *state = &l;
    return 0;
}

static int loop_teardown(void **state)
{
    struct loop *l = *state;
    gw_upstream_destroy(l->up);
    close(l->epfd);
    return 0;
}

/* Run the loop until x is done or ms pass; true if done. */
static bool loop_until_done(struct loop *l, struct gw_xfer *x, int ms)
{
    uint64_t until = gw_now_us() + (uint64_t)ms * 1000u;
    struct epoll_event evs[16];

    while (!x->done && gw_now_us() < until) {
        int t = gw_upstream_timeout_ms(l->up);
        int n = epoll_wait(l->epfd, evs, 16, t < 0 || t > 50 ? 50 : t);
        for (int i = 0; i < n; i++)
            gw_upstream_on_socket(l->up, (int)(uint32_t)evs[i].data.u64, evs[i].events);
        gw_upstream_run(l->up);
    }
    return x->done;
}

/* A header list the way gw_headers_request makes one: node and text in one block. */
static struct curl_slist *one_header(const char *line)
{
    size_t len = strlen(line) + 1;
    struct curl_slist *node = malloc(sizeof(*node) + len);

    assert_non_null(node);
    node->data = (char *)(node + 1);
    node->next = NULL;
    memcpy(node->data, line, len);
    return node;
}

static struct gw_xfer *xfer_get(struct loop *l, int port, int header_timeout_ms)
{
    char url[96], base[64];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    snprintf(url, sizeof(url), "%s/x", base);
    struct gw_xfer_params p = {
        .method = "GET", .url = url, .upstream = base,
        .headers = one_header("X-Test: 1"),
        .content_length = -1, .connect_timeout_ms = 1000,
        .header_timeout_ms = header_timeout_ms,
    };
    return gw_xfer_create(l->up, &p, NULL);
}

static int listen_on(int port)
{
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    int one = 1, fd = socket(AF_INET, SOCK_STREAM, 0);

    inet_pton(AF_INET, "127.0.0.1", &sin.sin_addr);
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(fd, 8) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

/* A one-connection upstream: answers `answers` requests on it, then waits. */
struct tiny {
    int lfd;
    int answers;
    int accepted;
};

static void *tiny_main(void *arg)
{
    struct tiny *t = arg;
    static const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhello";
    char buf[4096];
    size_t have = 0;
    int fd = accept(t->lfd, NULL, NULL);

    if (fd < 0)
        return NULL;
    t->accepted++;
    for (int i = 0; i < t->answers;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL)
            continue;
        have = 0;
        if (write(fd, resp, sizeof(resp) - 1) < 0)
            break;
        i++;
    }
    char c;
    while (read(fd, &c, 1) > 0)     /* until the client closes */
        ;
    close(fd);
    return NULL;
}

static void test_answer_and_keepalive(void **state)
{
    struct loop *l = *state;
    struct tiny t = { listen_on(18950), 2, 0 };
    pthread_t th;

    assert_true(t.lfd >= 0);
    assert_int_equal(pthread_create(&th, NULL, tiny_main, &t), 0);
    for (int round = 0; round < 2; round++) {
        struct gw_xfer *x = xfer_get(l, 18950, 2000);
        assert_non_null(x);
        assert_int_equal(gw_upstream_submit(l->up, x), 0);
        gw_xfer_end_body(x);
        assert_true(loop_until_done(l, x, 3000));
        assert_int_equal(x->result, CURLE_OK);
        assert_true(x->headers_done);
        assert_int_equal(x->status, 200);
        assert_non_null(strstr(x->resp_headers.buf, "X-A: b\r\n"));
        char body[16];
        assert_int_equal(x->down.len, 5);
        struct MHD_Response *resp = gw_xfer_response(x);   /* the ring's buffer, handed over */
        assert_non_null(resp);
        assert_null(x->down.buf);
        MHD_destroy_response(resp);
        assert_int_equal(gw_xfer_pull_body(x, body, sizeof(body)), MHD_CONTENT_READER_END_OF_STREAM);
        gw_xfer_release(x);
        gw_upstream_run(l->up);
    }
    gw_upstream_destroy(l->up);         /* closes the kept connection: tiny returns */
    char err[256];
    l->up = gw_upstream_create(l->epfd, TAG, &l->m, err, sizeof(err));
    pthread_join(th, NULL);
    close(t.lfd);
    assert_int_equal(t.accepted, 1);    /* both requests on one connection */
}

static void test_refused(void **state)
{
    struct loop *l = *state;
    struct gw_xfer *x = xfer_get(l, 18959, 2000);   /* nothing listens there */

    assert_non_null(x);
    assert_int_equal(gw_upstream_submit(l->up, x), 0);
    assert_true(loop_until_done(l, x, 3000));
    assert_int_not_equal(x->result, CURLE_OK);
    assert_false(x->headers_done);
    assert_false(x->timed_out);
    assert_true(x->errbuf[0] != '\0');
    char buf[8];
    assert_int_equal(gw_xfer_pull_body(x, buf, sizeof(buf)), MHD_CONTENT_READER_END_WITH_ERROR);
    gw_xfer_release(x);
}

static void test_silent_upstream_times_out(void **state)
{
    struct loop *l = *state;
    int lfd = listen_on(18951);         /* accepts (backlog), never answers */

    assert_true(lfd >= 0);
    struct gw_xfer *x = xfer_get(l, 18951, 200);
    assert_non_null(x);
    uint64_t t0 = gw_now_us();
    assert_int_equal(gw_upstream_submit(l->up, x), 0);
    assert_true(loop_until_done(l, x, 3000));
    uint64_t ms = (gw_now_us() - t0) / 1000u;
    assert_true(x->timed_out);
    assert_true(ms >= 190 && ms < 1500);
    assert_string_equal(x->errbuf, "no response headers in time");
    gw_xfer_release(x);
    close(lfd);
}

static void test_stop_finishes_transfers(void **state)
{
    struct loop *l = *state;
    int lfd = listen_on(18952);

    assert_true(lfd >= 0);
    struct gw_xfer *x = xfer_get(l, 18952, 5000);
    assert_non_null(x);
    assert_int_equal(gw_upstream_submit(l->up, x), 0);
    loop_until_done(l, x, 100);
    assert_false(x->done);
    gw_upstream_stop(l->up);
    assert_true(x->done);
    assert_int_not_equal(x->result, CURLE_OK);
    struct gw_xfer *y = xfer_get(l, 18952, 5000);
    assert_non_null(y);
    assert_int_equal(gw_upstream_submit(l->up, y), -1);    /* stopping: refused */
    gw_xfer_release(y);
    gw_xfer_release(x);
    close(lfd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answer_and_keepalive),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_silent_upstream_times_out),
        cmocka_unit_test(test_stop_finishes_transfers),
    };
    curl_global_init(CURL_GLOBAL_DEFAULT);
    int rc = cmocka_run_group_tests(tests, loop_setup, loop_teardown);
    curl_global_cleanup();
    return rc;
}
