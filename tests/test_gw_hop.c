/* Unit tests for gateway/gw_hop: the signed hop value a gateway sends. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "gateway/gw_hop.h"

static void secret_set(struct rules_secret *s, const char *key)
{
    memset(s, 0, sizeof(*s));
    s->len = strlen(key);
    memcpy(s->key, key, s->len);
}

/* What a receiver sees: the value parsed back. */
static bool verifies(const struct rules_secret *s, const char *value)
{
    struct route_hop h;
    route_hop_parse(value, &h);
    return gw_hop_verify(s, &h);
}

static void test_sign_and_verify(void **state)
{
    (void)state;
    struct rules_secret ours, theirs;
    struct gw_hop_cache cache = { 0 };

    secret_set(&ours, "0123456789abcdef0123456789abcdef");
    secret_set(&theirs, "another secret, another topology");
    const char *v = gw_hop_value(&cache, &ours, "dc-a", 7);
    assert_non_null(strstr(v, "dc-a; v=7; sig="));
    assert_true(verifies(&ours, v));
    assert_false(verifies(&theirs, v));

    /* any change to what was signed breaks it */
    char forged[ROUTE_HOP_MAX];
    struct route_hop h;
    route_hop_parse(v, &h);
    snprintf(forged, sizeof(forged), "dc-a; v=8; sig=%s", h.sig);
    assert_false(verifies(&ours, forged));
    snprintf(forged, sizeof(forged), "dc-b; v=7; sig=%s", h.sig);
    assert_false(verifies(&ours, forged));
    h.sig[0] = h.sig[0] == '0' ? '1' : '0';
    snprintf(forged, sizeof(forged), "dc-a; v=7; sig=%s", h.sig);
    assert_false(verifies(&ours, forged));
    /* no signature, no version */
    assert_false(verifies(&ours, "dc-a; v=7"));
    assert_false(verifies(&ours, "dc-a"));
    assert_false(verifies(&ours, NULL));
}

static void test_cache(void **state)
{
    (void)state;
    struct rules_secret s;
    struct gw_hop_cache cache = { 0 };
    char first[ROUTE_HOP_MAX];

    secret_set(&s, "0123456789abcdef0123456789abcdef");
    snprintf(first, sizeof(first), "%s", gw_hop_value(&cache, &s, "dc-a", 7));
    assert_string_equal(gw_hop_value(&cache, &s, "dc-a", 7), first);
    /* a new version or unit: formatted and signed again */
    const char *v8 = gw_hop_value(&cache, &s, "dc-a", 8);
    assert_string_not_equal(v8, first);
    assert_non_null(strstr(v8, "dc-a; v=8; sig="));
    assert_true(verifies(&s, v8));
    assert_non_null(strstr(gw_hop_value(&cache, &s, "dc-b", 8), "dc-b; v=8; sig="));
    /* no rules yet: the unversioned form, nothing to trust */
    assert_string_equal(gw_hop_value(&cache, &s, "dc-a", 0), "dc-a");
    assert_false(verifies(&s, "dc-a"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_and_verify),
        cmocka_unit_test(test_cache),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
