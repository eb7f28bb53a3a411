/*
 * Unit tests for router/rules_sign: HMAC-SHA256 signing and verification of
 * rule documents, and loading the secret file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "router/rules_sign.h"

static const char DOC[] =
    "version = 1L;\nbuckets = 10000;\n"
    "ranges = ( { first = 0; last = 4999; unit = \"dc-a\"; },\n"
    "           { first = 5000; last = 9999; unit = \"dc-b\"; } );\n"
    "overrides = ( { buyer = 42L; unit = \"dc-b\"; } );\nbans = ( );\n";

struct fx {
    char dir[64];
    char path[128];
};

static int fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ur-test-sign.XXXXXX");
    if (mkdtemp(fx->dir) == NULL) {
        free(fx);
        return -1;
    }
    snprintf(fx->path, sizeof(fx->path), "%s/secret", fx->dir);
    *state = fx;
    return 0;
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;

    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* Write len bytes of data to path with the given mode. */
static void write_secret(const char *path, const void *data, size_t len, mode_t mode)
{
    FILE *f;

    unlink(path);
    f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(path, mode), 0);
}

static void load_ok(struct fx *fx, struct rules_secret *s, const char *key, mode_t mode)
{
    char err[256] = "";

    write_secret(fx->path, key, strlen(key), mode);
    if (rules_secret_load(s, fx->path, err, sizeof(err)) != 0) {
        print_error("rules_secret_load: %s\n", err);
        fail();
    }
}

static void load_fails(struct fx *fx, const char *fault)
{
    struct rules_secret s;
    char err[256] = "";

    memset(&s, 0x5a, sizeof(s));
    assert_int_equal(rules_secret_load(&s, fx->path, err, sizeof(err)), -1);
    assert_int_equal(s.len, 0);
    if (strstr(err, fault) == NULL || strstr(err, fx->path) == NULL) {
        print_error("error \"%s\" does not name the file and \"%s\"\n", err, fault);
        fail();
    }
}

/* ---- signing ---------------------------------------------------------------- */

static void test_sign_known_answer(void **state)
{
    struct rules_secret s;
    char hex[RULES_SIGN_HEX_LEN + 1];
    const char *msg = "The quick brown fox jumps over the lazy dog";

    load_ok(*state, &s, "key", 0600);
    rules_sign(&s, msg, strlen(msg), hex);
    /* RFC 4231-style reference value (HMAC-SHA256, key "key") */
    assert_string_equal(hex, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8");
    assert_true(rules_sign_verify(&s, msg, strlen(msg), hex));
    rules_sign(&s, "", 0, hex);
    assert_string_equal(hex, "5d5d139563c95b5967b9bd9a8c9b233a9dedb45072794cd232dc1b74832607d0");
    assert_true(rules_sign_verify(&s, "", 0, hex));
    rules_secret_clear(&s);
}

static void test_sign_verify_roundtrip(void **state)
{
    struct rules_secret s, other;
    char hex[RULES_SIGN_HEX_LEN + 1], hex2[RULES_SIGN_HEX_LEN + 1];

    load_ok(*state, &other, "another secret", 0600);
    load_ok(*state, &s, "s3cret-key-for-tests", 0600);
    rules_sign(&s, DOC, strlen(DOC), hex);
    assert_int_equal(strlen(hex), RULES_SIGN_HEX_LEN);
    assert_int_equal(strspn(hex, "0123456789abcdef"), RULES_SIGN_HEX_LEN);
    assert_true(rules_sign_verify(&s, DOC, strlen(DOC), hex));
    /* deterministic: the same body signs the same */
    rules_sign(&s, DOC, strlen(DOC), hex2);
    assert_string_equal(hex, hex2);
    /* another secret: another signature, and it does not verify */
    rules_sign(&other, DOC, strlen(DOC), hex2);
    assert_string_not_equal(hex, hex2);
    assert_false(rules_sign_verify(&other, DOC, strlen(DOC), hex));
    /* a cleared secret verifies nothing */
    rules_secret_clear(&other);
    assert_int_equal(other.len, 0);
    assert_false(rules_sign_verify(&other, DOC, strlen(DOC), hex2));
    rules_secret_clear(&s);
}

/* Every byte of the body, changed in each of several ways, is rejected. */
static void test_flip_every_body_byte(void **state)
{
    static const unsigned char flips[] = { 0x01, 0x20, 0x80, 0xff };
    struct rules_secret s;
    char hex[RULES_SIGN_HEX_LEN + 1];
    size_t len = strlen(DOC);
    char *body = malloc(len + 1);

    assert_non_null(body);
    load_ok(*state, &s, "flip-test", 0600);
    rules_sign(&s, DOC, len, hex);
    for (size_t i = 0; i < len; i++)
        for (size_t f = 0; f < sizeof(flips); f++) {
            memcpy(body, DOC, len);
            body[i] = (char)(body[i] ^ flips[f]);
            if (rules_sign_verify(&s, body, len, hex)) {
                print_error("byte %zu ^ 0x%02x accepted\n", i, flips[f]);
                fail();
            }
        }
    /* one byte shorter or longer */
    memcpy(body, DOC, len + 1);
    assert_false(rules_sign_verify(&s, body, len - 1, hex));
    assert_false(rules_sign_verify(&s, body, len + 1, hex));  /* the NUL */
    assert_true(rules_sign_verify(&s, body, len, hex));
    free(body);
    rules_secret_clear(&s);
}

/* Every character of the signature, changed to another hex digit: rejected. */
static void test_flip_every_signature_char(void **state)
{
    struct rules_secret s;
    char hex[RULES_SIGN_HEX_LEN + 1], bad[RULES_SIGN_HEX_LEN + 1];

    load_ok(*state, &s, "flip-test", 0600);
    rules_sign(&s, DOC, strlen(DOC), hex);
    for (size_t i = 0; i < RULES_SIGN_HEX_LEN; i++)
        for (const char *d = "0123456789abcdef"; *d; d++) {
            if (*d == hex[i])
                continue;
            memcpy(bad, hex, sizeof(bad));
            bad[i] = *d;
            if (rules_sign_verify(&s, DOC, strlen(DOC), bad)) {
                print_error("signature with char %zu = '%c' accepted\n", i, *d);
                fail();
            }
        }
    rules_secret_clear(&s);
}

static void test_signature_format(void **state)
{
    struct rules_secret s;
    char hex[RULES_SIGN_HEX_LEN + 1], buf[RULES_SIGN_HEX_LEN + 8];
    size_t len = strlen(DOC);

    load_ok(*state, &s, "format-test", 0600);
    rules_sign(&s, DOC, len, hex);

    /* uppercase and mixed case are the same signature */
    for (size_t i = 0; i <= RULES_SIGN_HEX_LEN; i++)
        buf[i] = (char)(hex[i] >= 'a' && hex[i] <= 'f' ? hex[i] - 'a' + 'A' : hex[i]);
    assert_true(rules_sign_verify(&s, DOC, len, buf));
    for (size_t i = 0; i <= RULES_SIGN_HEX_LEN; i++)
        buf[i] = (char)(i % 2 ? buf[i] : hex[i]);
    assert_true(rules_sign_verify(&s, DOC, len, buf));

    /* wrong lengths */
    assert_false(rules_sign_verify(&s, DOC, len, NULL));
    assert_false(rules_sign_verify(&s, DOC, len, ""));
    memcpy(buf, hex, RULES_SIGN_HEX_LEN - 1);
    buf[RULES_SIGN_HEX_LEN - 1] = '\0';
    assert_false(rules_sign_verify(&s, DOC, len, buf));                 /* 63 */
    snprintf(buf, sizeof(buf), "%s0", hex);
    assert_false(rules_sign_verify(&s, DOC, len, buf));                 /* 65 */
    snprintf(buf, sizeof(buf), "%s\n", hex);
    assert_false(rules_sign_verify(&s, DOC, len, buf));                 /* newline */
    snprintf(buf, sizeof(buf), " %.*s", RULES_SIGN_HEX_LEN - 1, hex);
    assert_false(rules_sign_verify(&s, DOC, len, buf));                 /* space */

    /* non-hex characters in place of a hex digit */
    for (const char *c = "gGzZ-+ x\t'"; *c; c++) {
        memcpy(buf, hex, sizeof(hex));
        buf[10] = *c;
        assert_false(rules_sign_verify(&s, DOC, len, buf));
    }
    memcpy(buf, hex, sizeof(hex));
    buf[RULES_SIGN_HEX_LEN - 1] = '\x80';
    assert_false(rules_sign_verify(&s, DOC, len, buf));
    assert_true(rules_sign_verify(&s, DOC, len, hex));
    rules_secret_clear(&s);
}

/* ---- the secret file --------------------------------------------------------- */

static void test_secret_trailing_newline_stripped(void **state)
{
    struct rules_secret a, b, c;
    char ha[RULES_SIGN_HEX_LEN + 1], hb[RULES_SIGN_HEX_LEN + 1], hc[RULES_SIGN_HEX_LEN + 1];

    load_ok(*state, &a, "abc", 0600);
    load_ok(*state, &b, "abc\n", 0600);
    load_ok(*state, &c, "abc\r\n\n", 0600);
    assert_int_equal(a.len, 3);
    assert_int_equal(b.len, 3);
    assert_int_equal(c.len, 3);
    assert_memory_equal(b.key, "abc", 3);
    rules_sign(&a, DOC, strlen(DOC), ha);
    rules_sign(&b, DOC, strlen(DOC), hb);
    rules_sign(&c, DOC, strlen(DOC), hc);
    assert_string_equal(ha, hb);
    assert_string_equal(ha, hc);
    /* only trailing newlines go: inner ones are key bytes */
    load_ok(*state, &c, "a\nbc\n", 0600);
    assert_int_equal(c.len, 4);
    rules_sign(&c, DOC, strlen(DOC), hc);
    assert_string_not_equal(ha, hc);
    rules_secret_clear(&a);
    rules_secret_clear(&b);
    rules_secret_clear(&c);
}

static void test_secret_modes(void **state)
{
    struct fx *fx = *state;
    struct rules_secret s;

    write_secret(fx->path, "k", 1, 0644);
    load_fails(fx, "readable or writable by others");
    write_secret(fx->path, "k", 1, 0604);
    load_fails(fx, "chmod 600");
    write_secret(fx->path, "k", 1, 0602);
    load_fails(fx, "readable or writable by others");
    /* owner and group only: accepted */
    load_ok(fx, &s, "k", 0640);
    assert_int_equal(s.len, 1);
    load_ok(fx, &s, "k", 0400);
    rules_secret_clear(&s);
}

static void test_secret_empty_refused(void **state)
{
    struct fx *fx = *state;

    write_secret(fx->path, "", 0, 0600);
    load_fails(fx, "empty");
    write_secret(fx->path, "\n", 1, 0600);
    load_fails(fx, "empty");
    write_secret(fx->path, "\r\n\n", 3, 0600);
    load_fails(fx, "empty");
}

static void test_secret_too_long_refused(void **state)
{
    struct fx *fx = *state;
    struct rules_secret s;
    char *big = malloc(RULES_SIGN_SECRET_MAX + 10);
    char err[256];

    assert_non_null(big);
    memset(big, 'k', RULES_SIGN_SECRET_MAX + 10);
    write_secret(fx->path, big, RULES_SIGN_SECRET_MAX + 10, 0600);
    load_fails(fx, "longer than");
    write_secret(fx->path, big, RULES_SIGN_SECRET_MAX, 0600);
    load_fails(fx, "longer than");
    /* the largest accepted key */
    write_secret(fx->path, big, RULES_SIGN_SECRET_MAX - 1, 0600);
    assert_int_equal(rules_secret_load(&s, fx->path, err, sizeof(err)), 0);
    assert_int_equal(s.len, RULES_SIGN_SECRET_MAX - 1);
    rules_secret_clear(&s);
    free(big);
}

static void test_secret_missing_refused(void **state)
{
    struct fx *fx = *state;

    unlink(fx->path);
    load_fails(fx, "No such file");
}

static void test_secret_not_regular_refused(void **state)
{
    struct fx *fx = *state;
    struct rules_secret s;
    char err[256] = "";

    assert_int_equal(rules_secret_load(&s, fx->dir, err, sizeof(err)), -1);
    assert_non_null(strstr(err, fx->dir));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_sign_known_answer, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_sign_verify_roundtrip, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_every_body_byte, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_flip_every_signature_char, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_signature_format, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secret_trailing_newline_stripped, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secret_modes, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secret_empty_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secret_too_long_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secret_missing_refused, fx_setup, fx_teardown),
        cmocka_unit_test_setup_teardown(test_secret_not_regular_refused, fx_setup, fx_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
