/* http_body: collecting an upload in chunks, bounded. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "router/http_body.h"

static void test_chunks_are_collected(void **state)
{
    (void)state;
    struct http_body *b = http_body_create(16);
    size_t n = 5;

    assert_non_null(b);
    assert_int_equal(http_body_take(b, "hello", &n), 1);
    assert_int_equal(n, 0);
    n = 6;
    assert_int_equal(http_body_take(b, " world", &n), 1);
    n = 0;
    assert_int_equal(http_body_take(b, NULL, &n), 0);   /* the last call */
    assert_int_equal(b->buf.len, 11);
    assert_memory_equal(b->buf.buf, "hello world", 11);
    assert_int_equal(b->too_large, 0);
    http_body_destroy(b);
}

static void test_too_large_is_marked_and_dropped(void **state)
{
    (void)state;
    struct http_body *b = http_body_create(8);
    size_t n = 8;

    assert_int_equal(http_body_take(b, "12345678", &n), 1);   /* exactly max: kept */
    assert_int_equal(b->too_large, 0);
    n = 1;
    assert_int_equal(http_body_take(b, "9", &n), 1);          /* one more: too large */
    assert_int_equal(n, 0);
    assert_int_equal(b->too_large, 1);
    assert_int_equal(b->buf.len, 8);
    http_body_destroy(b);
}

static void test_destroy_null(void **state)
{
    (void)state;
    http_body_destroy(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_chunks_are_collected),
        cmocka_unit_test(test_too_large_is_marked_and_dropped),
        cmocka_unit_test(test_destroy_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
