/* Unit tests for router/admin_http: the "host:port" parser every listener uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <cmocka.h>

#include "router/admin_http.h"

static void test_accepted(void **state)
{
    struct sockaddr_in sa;

    (void)state;
    assert_int_equal(admin_http_parse_addr("127.0.0.1:8081", &sa), 0);
    assert_int_equal(ntohs(sa.sin_port), 8081);
    assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(admin_http_parse_addr("localhost:80", &sa), 0);
    assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_LOOPBACK);
    assert_int_equal(admin_http_parse_addr("*:65535", &sa), 0);
    assert_int_equal(ntohs(sa.sin_port), 65535);
    assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_ANY);
    assert_int_equal(admin_http_parse_addr(":80", &sa), 0);    /* no host: any */
    assert_int_equal(ntohl(sa.sin_addr.s_addr), INADDR_ANY);
}

/* strtol alone took a sign, leading spaces and control characters */
static void test_port_digits_only(void **state)
{
    static const char *const bad[] = {
        "127.0.0.1:+80", "127.0.0.1: 80", "*:\r80", "127.0.0.1:80 ", "127.0.0.1:-1",
        "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:000080", "127.0.0.1:", "127.0.0.1",
        "256.0.0.1:80", "example.org:80",
    };
    struct sockaddr_in sa;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (admin_http_parse_addr(bad[i], &sa) != -1)
            fail_msg("accepted \"%s\"", bad[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepted),
        cmocka_unit_test(test_port_digits_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
