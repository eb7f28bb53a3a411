/* tests for control/rule_edit: ban, switch and restore rule sets. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "control/rule_edit.h"

static const char *const units[] = { "dc-a", "dc-b", "dc-c" };

static const char base_text[] =
    "version = 7L;\nbuckets = 10000;\n"
    "ranges = ( { first = 0; last = 4999; unit = \"dc-a\"; },\n"
    "           { first = 5000; last = 9999; unit = \"dc-b\"; } );\n"
    "overrides = ( { buyer = 42L; unit = \"dc-b\"; } );\n"
    "bans = ( );\n";

static struct rules *parse(const char *text)
{
    char err[256];
    struct rules *r = rules_parse(text, strlen(text), units, 3, err, sizeof(err));
    if (r == NULL)
        fail_msg("parse: %s", err);
    return r;
}

static void test_sel_parse(void **state)
{
    (void)state;
    struct rule_sel s;
    char err[128], text[64];

    assert_int_equal(rule_sel_parse_buckets("5000-5999", &s, err, sizeof(err)), 0);
    assert_int_equal(s.first, 5000);
    assert_int_equal(s.last, 5999);
    assert_int_equal(rule_sel_size(&s), 1000);
    rule_sel_format(&s, text, sizeof(text));
    assert_string_equal(text, "buckets:5000-5999");
    assert_int_equal(rule_sel_parse(text, &s, err, sizeof(err)), 0);
    assert_int_equal(s.last, 5999);
    assert_int_equal(rule_sel_parse_buckets("17", &s, err, sizeof(err)), 0);
    assert_int_equal(s.first, 17);
    assert_int_equal(s.last, 17);
    assert_int_equal(rule_sel_parse_buckets("9-3", &s, err, sizeof(err)), -1);
    assert_int_equal(rule_sel_parse_buckets("a-3", &s, err, sizeof(err)), -1);
    assert_int_equal(rule_sel_parse_buckets("-3", &s, err, sizeof(err)), -1);
    assert_int_equal(rule_sel_parse_buckets("3-", &s, err, sizeof(err)), -1);
    assert_int_equal(rule_sel_parse_buckets("", &s, err, sizeof(err)), -1);
    assert_int_equal(rule_sel_parse_buyer("42", &s, err, sizeof(err)), 0);
    assert_true(s.is_buyer);
    rule_sel_format(&s, text, sizeof(text));
    assert_string_equal(text, "buyer:42");
    assert_int_equal(rule_sel_parse_buyer("-1", &s, err, sizeof(err)), -1);
    assert_int_equal(rule_sel_parse_buyer("12x", &s, err, sizeof(err)), -1);
    assert_int_equal(rule_sel_parse("stuff:1", &s, err, sizeof(err)), -1);
}

static void test_ban_switch_restore_buckets(void **state)
{
    (void)state;
    struct rules *base = parse(base_text);
    struct rule_sel s;
    char err[256];

    assert_int_equal(rule_sel_parse_buckets("5000-5999", &s, err, sizeof(err)), 0);
    assert_int_equal(rule_edit_source(base, &s, err, sizeof(err)), 1);

    struct rules *ban = rule_edit_ban(base, &s, err, sizeof(err));
    assert_non_null(ban);
    assert_int_equal(ban->version, 8);
    assert_true(rules_is_write_banned(ban, 5000));
    assert_true(rules_is_write_banned(ban, 15999));
    assert_false(rules_is_write_banned(ban, 6000));
    assert_false(rules_is_write_banned(ban, 4999));
    assert_false(rules_is_write_banned(ban, 42)); /* override not affected */
    assert_int_equal(rules_unit_for_buyer(ban, 5000), 1); /* routing unchanged */
    /* canonical: the source is what rules_print says */
    char *p = rules_print(ban, NULL);
    assert_string_equal(p, ban->source);
    free(p);

    struct rules *sw = rule_edit_switch(base, &s, 0, err, sizeof(err));
    assert_non_null(sw);
    assert_int_equal(sw->version, 9);
    assert_int_equal(sw->nbans, 0);
    assert_int_equal(rules_unit_for_buyer(sw, 5000), 0);
    assert_int_equal(rules_unit_for_buyer(sw, 5999), 0);
    assert_int_equal(rules_unit_for_buyer(sw, 6000), 1);
    assert_int_equal(rules_unit_for_buyer(sw, 4999), 0);
    assert_int_equal(sw->nranges, 2); /* 0-5999 merged, 6000-9999 */
    assert_int_equal(sw->ranges[0].last, 5999);

    struct rules *rb = rule_edit_restore(base, err, sizeof(err));
    assert_non_null(rb);
    assert_int_equal(rb->version, 9);
    assert_int_equal(rb->nbans, 0);
    rb->version = base->version;
    assert_true(rules_equal(rb, base));

    /* deterministic: building twice gives the same bytes */
    struct rules *ban2 = rule_edit_ban(base, &s, err, sizeof(err));
    assert_string_equal(ban2->source, ban->source);
    rules_destroy(ban2);

    rules_destroy(ban);
    rules_destroy(sw);
    rules_destroy(rb);
    rules_destroy(base);
}

static void test_switch_middle_and_edges(void **state)
{
    (void)state;
    struct rules *base = parse(base_text);
    struct rule_sel s;
    char err[256];

    /* a middle slice of dc-a to dc-c: three ranges out of one */
    rule_sel_parse_buckets("100-199", &s, err, sizeof(err));
    struct rules *sw = rule_edit_switch(base, &s, 2, err, sizeof(err));
    assert_non_null(sw);
    assert_int_equal(sw->nranges, 4);
    assert_int_equal(rules_unit_for_buyer(sw, 99), 0);
    assert_int_equal(rules_unit_for_buyer(sw, 100), 2);
    assert_int_equal(rules_unit_for_buyer(sw, 199), 2);
    assert_int_equal(rules_unit_for_buyer(sw, 200), 0);
    rules_destroy(sw);

    /* bucket 0 and the last bucket */
    rule_sel_parse_buckets("0-0", &s, err, sizeof(err));
    sw = rule_edit_switch(base, &s, 1, err, sizeof(err));
    assert_non_null(sw);
    assert_int_equal(rules_unit_for_buyer(sw, 0), 1);
    assert_int_equal(rules_unit_for_buyer(sw, 1), 0);
    rules_destroy(sw);
    rule_sel_parse_buckets("9999", &s, err, sizeof(err));
    sw = rule_edit_switch(base, &s, 0, err, sizeof(err));
    assert_non_null(sw);
    assert_int_equal(rules_unit_for_buyer(sw, 9999), 0);
    assert_int_equal(rules_unit_for_buyer(sw, 9998), 1);
    rules_destroy(sw);
    rules_destroy(base);
}

static void test_buyer_selection(void **state)
{
    (void)state;
    struct rules *base = parse(base_text);
    struct rule_sel s;
    char err[256];

    /* an existing override moves */
    rule_sel_parse_buyer("42", &s, err, sizeof(err));
    assert_int_equal(rule_edit_source(base, &s, err, sizeof(err)), 1);
    struct rules *ban = rule_edit_ban(base, &s, err, sizeof(err));
    assert_non_null(ban);
    assert_true(rules_is_write_banned(ban, 42));
    assert_false(rules_is_write_banned(ban, 43));
    struct rules *sw = rule_edit_switch(base, &s, 0, err, sizeof(err));
    assert_non_null(sw);
    assert_int_equal(rules_unit_for_buyer(sw, 42), 0);
    assert_false(rules_is_write_banned(sw, 42));
    assert_int_equal(sw->noverrides, 1);
    rules_destroy(ban);
    rules_destroy(sw);

    /* a buyer without override gets one */
    rule_sel_parse_buyer("7777", &s, err, sizeof(err));
    assert_int_equal(rule_edit_source(base, &s, err, sizeof(err)), 1);
    sw = rule_edit_switch(base, &s, 2, err, sizeof(err));
    assert_non_null(sw);
    assert_int_equal(sw->noverrides, 2);
    assert_int_equal(rules_unit_for_buyer(sw, 7777), 2);
    assert_int_equal(rules_unit_for_buyer(sw, 17777), 1);
    rules_destroy(sw);
    rules_destroy(base);
}

static void test_refusals(void **state)
{
    (void)state;
    struct rules *base = parse(base_text);
    struct rule_sel s;
    char err[256] = "";

    rule_sel_parse_buckets("4000-5999", &s, err, sizeof(err));
    assert_int_equal(rule_edit_source(base, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "span units"));
    assert_null(rule_edit_ban(base, &s, err, sizeof(err)));

    rule_sel_parse_buckets("9000-10000", &s, err, sizeof(err));
    assert_int_equal(rule_edit_source(base, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "0-9999"));

    rule_sel_parse_buckets("5000-5999", &s, err, sizeof(err));
    assert_null(rule_edit_switch(base, &s, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "already in unit dc-b"));
    assert_null(rule_edit_switch(base, &s, 7, err, sizeof(err)));

    /* already banned: a second cutover on the same buckets is refused */
    struct rules *ban = rule_edit_ban(base, &s, err, sizeof(err));
    assert_non_null(ban);
    rule_sel_parse_buckets("5500-5500", &s, err, sizeof(err));
    assert_null(rule_edit_ban(ban, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "overlap the write ban"));
    /* other buckets can still be banned on top */
    rule_sel_parse_buckets("0-9", &s, err, sizeof(err));
    struct rules *ban2 = rule_edit_ban(ban, &s, err, sizeof(err));
    assert_non_null(ban2);
    assert_int_equal(ban2->nbans, 2);
    rules_destroy(ban2);

    rule_sel_parse_buyer("5001", &s, err, sizeof(err));
    assert_int_equal(rule_edit_source(ban, &s, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "bucket 5001 is under a write ban"));
    rules_destroy(ban);

    rule_sel_parse_buyer("42", &s, err, sizeof(err));
    ban = rule_edit_ban(base, &s, err, sizeof(err));
    assert_non_null(ban);
    assert_null(rule_edit_ban(ban, &s, err, sizeof(err)));
    assert_non_null(strstr(err, "already under a write ban"));
    rules_destroy(ban);
    rules_destroy(base);
}

static void test_with_version(void **state)
{
    (void)state;
    struct rules *base = parse(base_text);
    char err[256];
    struct rules *r = rule_edit_with_version(base, 100, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(r->version, 100);
    r->version = 7;
    assert_true(rules_equal(r, base));
    rules_destroy(r);
    rules_destroy(base);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sel_parse),
        cmocka_unit_test(test_ban_switch_restore_buckets),
        cmocka_unit_test(test_switch_middle_and_edges),
        cmocka_unit_test(test_buyer_selection),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_with_version),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
