/*
 * Unit tests for router/rules: every validation error (with its line and
 * fault), lookups, the canonical round trip, and a property test over many
 * generated rule sets checked against a naive reference model.
 *
 * UR_TEST_SEED=N changes the property test's seed (it prints the one used).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "router/rules.h"

static const char *const UNITS[] = { "dc-a", "dc-b", "dc-c" };
#define NUNITS 3

/* ---- helpers ------------------------------------------------------------ */

static struct rules *parse_units(const char *text, size_t len, const char *const *units,
                                 size_t nunits)
{
    char err[512] = "";
    struct rules *r = rules_parse(text, len, units, nunits, err, sizeof(err));

    if (r == NULL)
        print_error("unexpected parse error: %s\n--- text:\n%.*s\n", err, (int)len, text);
    return r;
}

static struct rules *parse_ok(const char *text)
{
    struct rules *r = parse_units(text, strlen(text), UNITS, NUNITS);

    assert_non_null(r);
    return r;
}

/* "line N: " prefix for N > 0; no line prefix at all for N == 0. */
static void assert_parse_error(const char *text, size_t len, int line, const char *fault)
{
    char err[512] = "", want[32];
    struct rules *r = rules_parse(text, len, UNITS, NUNITS, err, sizeof(err));

    if (r != NULL) {
        print_error("parsed but should fail with line %d: %s\n--- text:\n%.*s\n", line,
                    fault, (int)len, text);
        rules_destroy(r);
        fail();
    }
    snprintf(want, sizeof(want), "line %d: ", line);
    int line_ok = line > 0 ? strncmp(err, want, strlen(want)) == 0
                           : strncmp(err, "line ", 5) != 0;
    if (!line_ok || strstr(err, fault) == NULL) {
        print_error("error \"%s\"\n  wanted line %d and \"%s\"\n", err, line, fault);
        fail();
    }
}

/* ---- validation errors: one table, one cmocka test per row ------------- */

struct error_case {
    const char *name;
    const char *text;   /* the document */
    int         line;   /* expected line, 0 = the error names no line */
    const char *fault;  /* expected fragment of the message */
};

/* Valid ranges over 4 lines: after "version = 1;\n" + R_AB the next list
 * opens on line 6 and its first entry is on line 7. */
#define R_AB "ranges = (\n{ first = 0; last = 4999; unit = \"dc-a\"; },\n" \
             "{ first = 5000; last = 9999; unit = \"dc-b\"; }\n);\n"

static const struct error_case ERROR_CASES[] = {
    { "gap_between", "version = 1;\nranges = (\n{ first = 0; last = 4999; unit = \"dc-a\"; },\n"
      "{ first = 5001; last = 9999; unit = \"dc-b\"; }\n);\n", 4, "gap: buckets 5000-5000" },
    { "gap_at_start", "version = 1;\nranges = (\n{ first = 1; last = 9999; unit = \"dc-a\"; }\n);\n",
      3, "gap: buckets 0-0" },
    { "gap_at_end", "version = 1;\nranges = (\n{ first = 0; last = 4999; unit = \"dc-a\"; }\n);\n",
      3, "gap: buckets 5000-9999" },
    { "gap_no_ranges", "version = 1;\n\nranges = ( );\n", 3, "gap: buckets 0-9999" },
    { "gap_unsorted", "version = 1;\nranges = (\n{ first = 6000; last = 9999; unit = \"dc-a\"; },\n"
      "{ first = 0; last = 4999; unit = \"dc-b\"; }\n);\n", 3, "gap: buckets 5000-5999" },
    { "overlap", "version = 1;\nranges = (\n{ first = 0; last = 5000; unit = \"dc-a\"; },\n"
      "{ first = 5000; last = 9999; unit = \"dc-b\"; }\n);\n", 4, "overlap: range 5000-9999 overlaps the range on line 3" },
    { "overlap_contained", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = \"dc-a\"; },\n"
      "{ first = 10; last = 20; unit = \"dc-b\"; }\n);\n", 4, "overlap" },
    { "overlap_same_first", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = \"dc-a\"; },\n"
      "{ first = 0; last = 9999; unit = \"dc-a\"; }\n);\n", 4, "overlap" },
    { "unknown_unit_range", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = \"dc-x\"; }\n);\n",
      3, "unknown unit \"dc-x\"" },
    { "unknown_unit_override", "version = 1;\n" R_AB "overrides = (\n{ buyer = 5; unit = \"DC-A\"; }\n);\n",
      7, "unknown unit \"DC-A\"" },
    { "bucket_out_of_range", "version = 1;\nranges = (\n{ first = 0; last = 10000; unit = \"dc-a\"; }\n);\n",
      3, "bucket 10000 is out of range [0, 10000)" },
    { "bucket_out_of_range_small", "version = 1;\nbuckets = 100;\n" R_AB, 4, "bucket 4999 is out of range [0, 100)" },
    { "ban_out_of_range", "version = 1;\n" R_AB "bans = (\n{ first = 9990; last = 10000; }\n);\n",
      7, "bucket 10000 is out of range" },
    { "first_after_last", "version = 1;\nranges = (\n{ first = 10; last = 5; unit = \"dc-a\"; }\n);\n",
      3, "first 10 is after last 5" },
    { "ban_first_after_last", "version = 1;\n" R_AB "bans = (\n{ first = 8; last = 7; }\n);\n",
      7, "first 8 is after last 7" },
    { "duplicate_override", "version = 1;\n" R_AB "overrides = (\n{ buyer = 42; unit = \"dc-b\"; },\n"
      "{ buyer = 43; unit = \"dc-b\"; },\n{ buyer = 42L; unit = \"dc-a\"; }\n);\n", 9,
      "duplicate override for buyer 42 (also on line 7)" },
    { "duplicate_buyer_ban", "version = 1;\n" R_AB "bans = (\n{ buyer = 7; },\n{ first = 1; last = 2; },\n"
      "{ buyer = 7; }\n);\n", 9, "duplicate ban for buyer 7 (also on line 7)" },
    { "overlapping_bans", "version = 1;\n" R_AB "bans = (\n{ first = 10; last = 20; },\n"
      "{ first = 20; last = 30; }\n);\n", 8, "ban 20-30 overlaps the one on line 7" },
    { "overlapping_bans_contained", "version = 1;\n" R_AB "bans = (\n{ first = 10; last = 90; },\n"
      "{ first = 0; last = 5; },\n{ first = 50; last = 60; }\n);\n", 9, "ban 50-60 overlaps the one on line 7" },
    { "ban_buyer_and_range", "version = 1;\n" R_AB "bans = (\n{ buyer = 3; first = 1; last = 2; }\n);\n",
      7, "either a buyer or a bucket range" },
    { "ban_missing_last", "version = 1;\n" R_AB "bans = (\n{ first = 1; }\n);\n", 7, "missing 'last'" },
    { "version_zero", "# comment\nversion = 0;\n" R_AB, 2, "version must be at least 1" },
    { "version_missing", "buckets = 10000;\n" R_AB, 0, "missing 'version'" },
    { "ranges_missing", "version = 2;\n", 0, "missing 'ranges'" },
    { "range_missing_unit", "version = 1;\nranges = (\n{ first = 0; last = 9999; }\n);\n", 3, "missing 'unit'" },
    { "range_missing_first", "version = 1;\nranges = (\n{ last = 9999; unit = \"dc-a\"; }\n);\n", 3, "missing 'first'" },
    { "negative_version", "version = -1;\n" R_AB, 1, "'version' = -1 is out of range" },
    { "negative_first", "version = 1;\nranges = (\n{ first = -1; last = 9999; unit = \"dc-a\"; }\n);\n",
      3, "'first' = -1 is out of range" },
    { "negative_buyer", "version = 1;\n" R_AB "overrides = (\n{ buyer = -5L; unit = \"dc-a\"; }\n);\n",
      7, "'buyer' = -5 is out of range" },
    { "negative_ban_buyer", "version = 1;\n" R_AB "bans = (\n{ buyer = -1; }\n);\n", 7, "'buyer' = -1 is out of range" },
    { "buckets_zero", "version = 1;\nbuckets = 0;\n" R_AB, 2, "'buckets' = 0 is out of range [1, 1000000]" },
    { "buckets_too_many", "version = 1;\nbuckets = 1000001;\n" R_AB, 2, "'buckets' = 1000001 is out of range" },
    { "int32_overflow_wraps", "version = 1;\n" R_AB "overrides = (\n{ buyer = 4294967338; unit = \"dc-a\"; }\n);\n",
      7, "integer 4294967338 does not fit 32 bits" },
    { "int32_overflow_negative", "version = -2147483649;\n" R_AB, 1, "does not fit 32 bits" },
    { "int64_overflow_clamps", "version = 9223372036854775808L;\n" R_AB, 1, "does not fit 64 bits" },
    { "hex_overflow", "version = 1;\n" R_AB "overrides = (\n{ buyer = 0x100000001; unit = \"dc-a\"; }\n);\n",
      7, "integer 0x100000001 does not fit 32 bits" },
    { "type_version_string", "version = \"1\";\n" R_AB, 1, "'version' must be an integer" },
    { "type_version_float", "version = 1.0;\n" R_AB, 1, "'version' must be an integer" },
    { "type_version_bool", "version = true;\n" R_AB, 1, "'version' must be an integer" },
    { "type_buckets_float", "version = 1;\nbuckets = 1e4;\n" R_AB, 2, "'buckets' must be an integer" },
    { "type_first_string", "version = 1;\nranges = (\n{ first = \"0\"; last = 9999; unit = \"dc-a\"; }\n);\n",
      3, "'first' must be an integer" },
    { "type_unit_int", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = 1; }\n);\n",
      3, "'unit' must be a string" },
    { "type_ranges_int", "version = 1;\nranges = 5;\n", 2, "'ranges' must be a list" },
    { "type_ranges_array", "version = 1;\nranges = [ 1, 2 ];\n", 2, "'ranges' must be a list" },
    { "type_ranges_group", "version = 1;\nranges = { first = 0; };\n", 2, "'ranges' must be a list" },
    { "type_range_entry", "version = 1;\nranges = (\n  5\n);\n", 3, "each entry of 'ranges' must be a group" },
    { "type_overrides_group", "version = 1;\n" R_AB "overrides = { buyer = 1; };\n", 6, "'overrides' must be a list" },
    /* one line: libconfig dates a string element by the token after it */
    { "type_bans_entry", "version = 1;\n" R_AB "bans = ( \"0-9\" );\n", 6, "each entry of 'bans' must be a group" },
    { "unknown_key_top", "version = 1;\n" R_AB "colour = \"red\";\n", 6, "unknown key 'colour'" },
    { "unknown_key_range", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = \"dc-a\"; weight = 1; }\n);\n",
      3, "unknown key 'weight'" },
    { "unknown_key_override", "version = 1;\n" R_AB "overrides = (\n{ buyer = 1; unit = \"dc-a\"; until = 5; }\n);\n",
      7, "unknown key 'until'" },
    { "unknown_key_ban", "version = 1;\n" R_AB "bans = (\n{ first = 1; last = 2; unit = \"dc-a\"; }\n);\n",
      7, "unknown key 'unit'" },
    { "override_with_range_key", "version = 1;\n" R_AB "overrides = (\n{ first = 1; unit = \"dc-a\"; }\n);\n",
      7, "unknown key 'first'" },
    { "include_refused", "@include \"/etc/passwd\"\nversion = 1;\n" R_AB, 0, "@include is not allowed" },
    { "include_in_comment_refused", "# @include \"x\"\nversion = 1;\n" R_AB, 0, "@include" },
    { "syntax_error", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = \"dc-a\"; }\n;\n",
      4, "syntax" },
    { "syntax_missing_semicolon_value", "version = ;\n" R_AB, 1, "syntax" },
    { "syntax_trailing_comma", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = \"dc-a\"; },\n);\n",
      4, "syntax" },
    { "duplicate_top_key", "version = 1;\nversion = 2;\n" R_AB, 2, "syntax: duplicate setting name" },
    { "duplicate_group_key", "version = 1;\nranges = (\n{ first = 0; first = 1; last = 9999; unit = \"dc-a\"; }\n);\n",
      3, "duplicate setting name" },
    /* strings where the grammar takes none (libconfig would leak them) */
    { "string_after_value", "version = 1 \"x\";\n" R_AB, 1, "syntax: unexpected string" },
    { "string_after_garbage", "version = 1;\nranges = (\n{ first = 0; last = 9999; unit = .\"dc-a\"; }\n);\n",
      3, "syntax: unexpected string" },
    { "string_as_group_member", "version = 1;\nranges = (\n{ first = 0, \"x\" }\n);\n", 3,
      "syntax: unexpected string" },
    { "string_as_first_token", "\n\"version\" = 1;\n" R_AB, 2, "syntax: unexpected string" },
    { "string_in_list_after_value", "version = 1;\nranges = ( 1 \"x\" );\n", 2, "syntax: unexpected string" },
    { "nested_too_deep", "version = 1;\nx = (((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((((("
      "))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))))));\n", 2, "nested deeper than 64" },
    { "whitespace_only", "\n \n# nothing\n", 0, "missing 'version'" },
};
#define NERROR_CASES (sizeof(ERROR_CASES) / sizeof(ERROR_CASES[0]))

static void test_error_case(void **state)
{
    const struct error_case *c = *state;

    assert_parse_error(c->text, strlen(c->text), c->line, c->fault);
}

static void test_error_nul_byte(void **state)
{
    static const char text[] = "version = 1;\n\0" R_AB;

    (void)state;
    assert_parse_error(text, sizeof(text) - 1, 0, "NUL byte");
    /* the NUL is also refused at the very end of the body */
    static const char tail[] = "version = 1;\n" R_AB "\0";
    assert_parse_error(tail, sizeof(tail) - 1, 0, "NUL byte");
}

static void test_error_empty(void **state)
{
    (void)state;
    assert_parse_error("", 0, 0, "empty rule document");
}

static void test_error_too_large(void **state)
{
    size_t len = RULES_BODY_MAX + 1;
    char *text = malloc(len);

    (void)state;
    assert_non_null(text);
    memset(text, '\n', len);
    assert_parse_error(text, len, 0, "exceeds");
    free(text);
}

/* Only len bytes count: text beyond len (not NUL-terminated) is ignored. */
static void test_parse_uses_len_only(void **state)
{
    const char *doc = "version = 1;\n" R_AB "garbage that would not parse";
    size_t len = strlen("version = 1;\n" R_AB);
    struct rules *r = parse_units(doc, len, UNITS, NUNITS);

    (void)state;
    assert_non_null(r);
    assert_int_equal(r->source_len, len);
    assert_memory_equal(r->source, doc, len);
    assert_int_equal(r->source[len], '\0');
    rules_destroy(r);
}

static void test_error_units(void **state)
{
    static const char *const long_name[] = { "a-unit-name-that-is-thirty-two-ch" };
    static const char *const quoted[] = { "dc\"a" };
    static const char *const empty[] = { "" };
    const char *many[RULES_UNITS_MAX + 1];
    const char *text = "version = 1;\nranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );\n";
    char err[256];

    (void)state;
    for (size_t i = 0; i <= RULES_UNITS_MAX; i++)
        many[i] = "dc-a";
    assert_null(rules_parse(text, strlen(text), UNITS, 0, err, sizeof(err)));
    assert_non_null(strstr(err, "1 to 62 units"));
    assert_null(rules_parse(text, strlen(text), many, RULES_UNITS_MAX + 1, err, sizeof(err)));
    assert_non_null(strstr(err, "1 to 62 units"));
    assert_null(rules_parse(text, strlen(text), long_name, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "unit name"));
    assert_null(rules_parse(text, strlen(text), quoted, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "unit name"));
    assert_null(rules_parse(text, strlen(text), empty, 1, err, sizeof(err)));
    assert_non_null(strstr(err, "unit name"));
    /* a unit the rules do not use may exist; one the rules use must */
    struct rules *r = rules_parse(text, strlen(text), many, RULES_UNITS_MAX, err, sizeof(err));
    assert_non_null(r);
    assert_int_equal(r->nunits, RULES_UNITS_MAX);
    rules_destroy(r);
    /* errors with a NULL or tiny buffer must not crash */
    assert_null(rules_parse("version = 0;", 12, UNITS, NUNITS, NULL, 0));
    assert_null(rules_parse("version = 0;", 12, UNITS, NUNITS, err, 1));
    assert_string_equal(err, "");
}

/* Numbers that fit are taken as written, in every notation libconfig has. */
static void test_integer_notations(void **state)
{
    const char *text =
        "version = 0x10;\n"
        "buckets = 10000L;\n"
        "ranges = ( { first = +0; last = 0x1387; unit = \"dc-a\"; },\n"
        "           { first = 5000LL; last = 9999; unit = \"dc-b\"; } );\n"
        "overrides = ( { buyer = 2147483647; unit = \"dc-c\"; },\n"
        "              { buyer = 9223372036854775807L; unit = \"dc-c\"; },\n"
        "              { buyer = 0x7fffffffffffffffL; unit = \"dc-c\"; },\n"
        "              { buyer = 4294967338L; unit = \"dc-c\"; } );\n"
        "/* 99999999999999999999 in a comment */ // 88888888888888888888\n"
        "# 77777777777777777777\n";
    char err[256];
    struct rules *r;

    (void)state;
    /* 0x7fffffffffffffffL and 9223372036854775807L are the same buyer */
    r = rules_parse(text, strlen(text), UNITS, NUNITS, err, sizeof(err));
    assert_null(r);
    assert_non_null(strstr(err, "line 7: duplicate override for buyer 9223372036854775807"));

    const char *ok =
        "version = 0x10;\nbuckets = 10000L;\n"
        "ranges = ( { first = +0; last = 0x1387; unit = \"dc-a\"; },\n"
        "           { first = 5000LL; last = 9999; unit = \"dc-b\"; } );\n"
        "overrides = ( { buyer = 2147483647; unit = \"dc-c\"; },\n"
        "              { buyer = 9223372036854775807L; unit = \"dc-c\"; },\n"
        "              { buyer = 4294967338L; unit = \"dc-c\"; } );\n"
        "/* 99999999999999999999 in a comment */ // 88888888888888888888\n"
        "# 77777777777777777777\n"
        "bans = ( { buyer = 0; } ); # \"a quote in a comment\n";
    r = parse_ok(ok);
    assert_int_equal(r->version, 16);
    assert_int_equal(r->nranges, 2);
    assert_int_equal(r->ranges[0].last, 4999);
    assert_int_equal(r->noverrides, 3);
    assert_int_equal(r->overrides[0].buyer_id, 2147483647u);
    assert_int_equal(r->overrides[1].buyer_id, 4294967338u);
    assert_int_equal(r->overrides[2].buyer_id, (uint64_t)INT64_MAX);
    assert_int_equal(rules_unit_for_buyer(r, 4294967338u), 2);
    assert_int_equal(rules_unit_for_buyer(r, 42), 0);
    assert_true(rules_is_write_banned(r, 0));
    rules_destroy(r);
}

/* Strings where the grammar takes them: values, concatenations, list items. */
static void test_strings_where_valid(void **state)
{
    const char *text =
        "version = 1;\n"
        "ranges = ( { first = 0; last = 9999; unit = \"dc\" \"-\"\n \"b\"; } );\n"
        "# a \"quoted\" comment, /* and */ more\n"
        "overrides = ( { buyer = 1; unit : \"dc-c\"; }, { buyer = 2, unit = \"dc-a\" } );\n";
    char err[256];
    struct rules *r = parse_ok(text);

    (void)state;
    assert_int_equal(rules_unit_for_buyer(r, 5), 1);
    assert_int_equal(rules_unit_for_buyer(r, 1), 2);
    assert_int_equal(rules_unit_for_buyer(r, 2), 0);
    rules_destroy(r);
    /* a string inside a list or array is grammatical; the type check refuses it */
    const char *lists[] = { "version = 1;\nranges = ( \"a\", \"b\" );\n",
                            "version = 1;\nranges = [ \"a\" ];\n" };
    for (size_t i = 0; i < 2; i++) {
        assert_null(rules_parse(lists[i], strlen(lists[i]), UNITS, NUNITS, err, sizeof(err)));
        assert_non_null(strstr(err, "line 2: "));
        assert_null(strstr(err, "unexpected string"));
    }
}

/* ---- lookups --------------------------------------------------------------- */

static const char *LOOKUP_DOC =
    "version = 7L;\n"
    "buckets = 10000;\n"
    "ranges = ( { first = 0; last = 4999; unit = \"dc-a\"; },\n"
    "           { first = 5000; last = 8999; unit = \"dc-b\"; },\n"
    "           { first = 9000; last = 9999; unit = \"dc-c\"; } );\n"
    "overrides = ( { buyer = 42L; unit = \"dc-b\"; },\n"
    "              { buyer = 150L; unit = \"dc-c\"; },\n"
    "              { buyer = 5005L; unit = \"dc-a\"; },\n"
    "              { buyer = 9223372036854775807L; unit = \"dc-a\"; } );\n"
    "bans = ( { first = 100; last = 199; },\n"
    "         { buyer = 7L; },\n"
    "         { buyer = 5005L; },\n"
    "         { first = 9999; last = 9999; } );\n";

static void test_lookup_ranges(void **state)
{
    struct rules *r = parse_ok(LOOKUP_DOC);
    int a = rules_unit_index(r, "dc-a"), b = rules_unit_index(r, "dc-b"),
        c = rules_unit_index(r, "dc-c");

    (void)state;
    assert_int_equal(a, 0);
    assert_int_equal(b, 1);
    assert_int_equal(c, 2);
    assert_int_equal(rules_unit_index(r, "dc-x"), RULES_NO_UNIT);
    assert_int_equal(rules_bucket_of(r, 123456789), 6789);
    assert_int_equal(rules_unit_for_buyer(r, 0), a);
    assert_int_equal(rules_unit_for_buyer(r, 4999), a);
    assert_int_equal(rules_unit_for_buyer(r, 5000), b);
    assert_int_equal(rules_unit_for_buyer(r, 8999), b);
    assert_int_equal(rules_unit_for_buyer(r, 9000), c);
    assert_int_equal(rules_unit_for_buyer(r, 10000), a);           /* bucket 0 */
    assert_int_equal(rules_unit_for_buyer(r, 15000), b);           /* bucket 5000 */
    assert_int_equal(rules_unit_for_buyer(r, UINT64_MAX), a);      /* bucket 1615 */
    assert_int_equal(rules_unit_for_buyer(r, UINT64_MAX - 1615 - 1000), c); /* bucket 9000 */
    assert_string_equal(rules_unit_name(r, c), "dc-c");
    assert_string_equal(rules_unit_name(r, 3), "?");
    assert_string_equal(rules_unit_name(r, -1), "?");
    assert_false(rules_is_write_banned(r, 0));
    assert_false(rules_is_write_banned(r, 9998));
    rules_destroy(r);
}

static void test_lookup_overrides(void **state)
{
    struct rules *r = parse_ok(LOOKUP_DOC);

    (void)state;
    assert_int_equal(rules_unit_for_buyer(r, 42), 1);       /* bucket 42 is dc-a */
    assert_int_equal(rules_unit_for_buyer(r, 10042), 0);    /* same bucket, no override */
    assert_int_equal(rules_unit_for_buyer(r, 150), 2);
    assert_int_equal(rules_unit_for_buyer(r, 5005), 0);
    assert_int_equal(rules_unit_for_buyer(r, 15005), 1);
    assert_int_equal(rules_unit_for_buyer(r, (uint64_t)INT64_MAX), 0);
    assert_int_equal(rules_unit_for_buyer(r, (uint64_t)INT64_MAX - 10000), 1); /* bucket 5807 */
    rules_destroy(r);
}

static void test_lookup_bucket_bans(void **state)
{
    struct rules *r = parse_ok(LOOKUP_DOC);

    (void)state;
    assert_false(rules_is_write_banned(r, 99));
    assert_true(rules_is_write_banned(r, 100));
    assert_true(rules_is_write_banned(r, 199));
    assert_false(rules_is_write_banned(r, 200));
    assert_true(rules_is_write_banned(r, 10150));
    assert_true(rules_is_write_banned(r, 9999));
    assert_true(rules_is_write_banned(r, 19999));
    /* a ban never changes the home unit */
    assert_int_equal(rules_unit_for_buyer(r, 100), 0);
    assert_int_equal(rules_unit_for_buyer(r, 9999), 2);
    rules_destroy(r);
}

static void test_lookup_buyer_bans(void **state)
{
    struct rules *r = parse_ok(LOOKUP_DOC);

    (void)state;
    assert_true(rules_is_write_banned(r, 7));
    assert_false(rules_is_write_banned(r, 10007));      /* same bucket, other buyer */
    assert_false(rules_is_write_banned(r, 8));
    assert_int_equal(rules_unit_for_buyer(r, 7), 0);    /* the ban keeps its bucket's unit */
    /* a buyer ban on an override buyer: banned, still at the override's unit */
    assert_true(rules_is_write_banned(r, 5005));
    assert_int_equal(rules_unit_for_buyer(r, 5005), 0);
    assert_false(rules_is_write_banned(r, 15005));
    rules_destroy(r);
}

static void test_lookup_override_ignores_bucket_ban(void **state)
{
    struct rules *r = parse_ok(LOOKUP_DOC);

    (void)state;
    /* buyer 150 is in banned bucket 150, but its home is its override */
    assert_false(rules_is_write_banned(r, 150));
    assert_int_equal(rules_unit_for_buyer(r, 150), 2);
    assert_true(rules_is_write_banned(r, 10150));
    assert_int_equal(rules_unit_for_buyer(r, 10150), 0);
    rules_destroy(r);
}

/* Many overrides that collide in the hash: every one found, others not. */
static void test_lookup_many_overrides(void **state)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);

    (void)state;
    assert_non_null(f);
    fprintf(f, "version = 1;\nbuckets = 1;\nranges = ( { first = 0; last = 0; unit = \"dc-a\"; } );\n"
               "overrides = (\n");
    for (int i = 0; i < 3000; i++)
        fprintf(f, "{ buyer = %lluL; unit = \"%s\"; }%s\n",
                (unsigned long long)i << 40, UNITS[1 + i % 2], i < 2999 ? "," : "");
    fprintf(f, ");\nbans = ( { buyer = 1L; }, { buyer = %lluL; } );\n", 5ull << 40);
    fclose(f);
    struct rules *r = parse_ok(text);
    assert_int_equal(r->noverrides, 3000);
    for (int i = 0; i < 3000; i++) {
        uint64_t id = (uint64_t)i << 40;
        assert_int_equal(rules_unit_for_buyer(r, id), 1 + i % 2);
        assert_int_equal(rules_is_write_banned(r, id), i == 5);
        assert_int_equal(rules_unit_for_buyer(r, id + 1), 0);
    }
    assert_true(rules_is_write_banned(r, 1));
    assert_int_equal(rules_unit_for_buyer(r, 1), 0);
    assert_int_equal(rules_unit_for_buyer(r, 3000ull << 40), 0);
    rules_destroy(r);
    free(text);
}

/* ---- canonical form -------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;

    if (f == NULL)
        return NULL;
    buf = malloc(1 << 20);
    if (buf != NULL) {
        *len = fread(buf, 1, (1 << 20) - 1, f);
        buf[*len] = '\0';
    }
    fclose(f);
    return buf;
}

/* print(parse(x)) is a fixed point and parse(print(r)) equals r. */
static void assert_round_trip(const struct rules *r)
{
    size_t len1, len2;
    char *p1 = rules_print(r, &len1);

    assert_non_null(p1);
    assert_int_equal(strlen(p1), len1);
    struct rules *r2 = parse_units(p1, len1, UNITS, NUNITS);
    assert_non_null(r2);
    assert_true(rules_equal(r, r2));
    assert_true(rules_equal(r2, r));
    char *p2 = rules_print(r2, &len2);
    assert_non_null(p2);
    assert_int_equal(len1, len2);
    assert_memory_equal(p1, p2, len1);
    free(p1);
    free(p2);
    rules_destroy(r2);
}

static void test_canonical_example_conf(void **state)
{
    size_t len = 0;
    char *text = read_file("conf/rules.conf", &len);

    (void)state;
    if (text == NULL)
        fail_msg("conf/rules.conf not found: run the tests from the top directory");
    struct rules *r = parse_units(text, len, UNITS, 2);
    assert_non_null(r);
    assert_int_equal(r->buckets, 10000);
    assert_int_equal(rules_unit_for_buyer(r, 42), 1);
    assert_int_equal(rules_unit_for_buyer(r, 43), 0);
    assert_int_equal(rules_unit_for_buyer(r, 5000), 1);
    assert_round_trip(r);
    rules_destroy(r);
    free(text);
}

static void test_canonical_normalizes(void **state)
{
    /* unsorted, split same-unit ranges, adjacent bans, hex, comments */
    const char *messy =
        "bans = ( { first = 20; last = 29; }, { buyer = 9; }, { first = 10; last = 19; },\n"
        "         { buyer = 3; }, { first = 40; last = 40; } );\n"
        "overrides = ( { buyer = 0x20; unit = \"dc-c\"; }, { buyer = 5; unit = \"dc-a\"; } );\n"
        "ranges = ( { first = 7000; last = 9999; unit = \"dc-b\"; },  // tail\n"
        "           { first = 0; last = 99; unit = \"dc-a\"; },\n"
        "           { first = 100; last = 6999; unit = \"dc-a\"; } );\n"
        "version = 12;\n";
    const char *canonical =
        "version = 12L;\n"
        "buckets = 10000;\n"
        "ranges = (\n"
        "  { first = 0; last = 6999; unit = \"dc-a\"; },\n"
        "  { first = 7000; last = 9999; unit = \"dc-b\"; }\n"
        ");\n"
        "overrides = (\n"
        "  { buyer = 5L; unit = \"dc-a\"; },\n"
        "  { buyer = 32L; unit = \"dc-c\"; }\n"
        ");\n"
        "bans = (\n"
        "  { first = 10; last = 29; },\n"
        "  { first = 40; last = 40; },\n"
        "  { buyer = 3L; },\n"
        "  { buyer = 9L; }\n"
        ");\n";
    struct rules *a = parse_ok(messy), *b = parse_ok(canonical);

    (void)state;
    char *pa = rules_print(a, NULL);
    assert_string_equal(pa, canonical);
    assert_true(rules_equal(a, b));
    assert_round_trip(a);
    free(pa);
    rules_destroy(a);
    rules_destroy(b);
}

static void test_equal_detects_each_difference(void **state)
{
    static const char *const variants[] = {
        "version = 2; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );",
        "version = 1; buckets = 9999; ranges = ( { first = 0; last = 9998; unit = \"dc-a\"; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-b\"; } );",
        "version = 1; ranges = ( { first = 0; last = 1; unit = \"dc-a\"; },"
        " { first = 2; last = 9999; unit = \"dc-b\"; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );"
        " overrides = ( { buyer = 1; unit = \"dc-a\"; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );"
        " overrides = ( { buyer = 1; unit = \"dc-b\"; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );"
        " overrides = ( { buyer = 2; unit = \"dc-b\"; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );"
        " bans = ( { first = 0; last = 0; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );"
        " bans = ( { first = 0; last = 1; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );"
        " bans = ( { buyer = 0; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );"
        " bans = ( { buyer = 1; } );",
        "version = 1; ranges = ( { first = 0; last = 9999; unit = \"dc-a\"; } );",
    };
    size_t n = sizeof(variants) / sizeof(variants[0]);
    struct rules *r[sizeof(variants) / sizeof(variants[0])];

    (void)state;
    for (size_t i = 0; i < n; i++)
        r[i] = parse_ok(variants[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (rules_equal(r[i], r[j]) != (i == j)) {
                print_error("rules_equal(%zu, %zu) is %d\n", i, j, rules_equal(r[i], r[j]));
                fail();
            }
    for (size_t i = 0; i < n; i++) {
        assert_round_trip(r[i]);
        rules_destroy(r[i]);
    }
}

/* ---- property test: generated rule sets vs a naive reference model ------ */

#define PROP_SETS      2000
#define PROP_LOOKUPS   500
#define PROP_OVR_MAX   40
#define PROP_BBAN_MAX  12

static const char *const PROP_UNITS[] = { "dc-a", "dc-b", "dc-c", "u3", "unit-four", "x_5" };

struct prop_model {
    uint64_t  version;
    uint32_t  buckets;
    size_t    nunits;
    uint8_t  *unit_of;      /* [buckets] */
    uint8_t  *banned;       /* [buckets] */
    uint64_t  ovr_id[PROP_OVR_MAX];
    int       ovr_unit[PROP_OVR_MAX];
    size_t    novr;
    uint64_t  bban[PROP_BBAN_MAX];
    size_t    nbban;
};

static uint64_t prop_rng;

static uint64_t prop_next(void)
{
    uint64_t z = (prop_rng += 0x9E3779B97F4A7C15ull);   /* splitmix64 */
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static uint64_t prop_below(uint64_t n)
{
    return n ? prop_next() % n : 0;
}

/* A buyer id: small, near a bucket boundary, or anywhere in 63 bits. */
static uint64_t prop_buyer(uint32_t buckets)
{
    switch (prop_below(4)) {
    case 0:  return prop_below(3ull * buckets);
    case 1:  return prop_below(1000);
    case 2:  return (uint64_t)INT64_MAX - prop_below(1000);
    default: return prop_next() >> 1;
    }
}

static uint32_t prop_buckets(void)
{
    switch (prop_below(8)) {
    case 0:  return 1;
    case 1:  return (uint32_t)(1 + prop_below(10));
    case 2:  return 10000;
    case 3:  return prop_below(50) == 0 ? RULES_BUCKETS_MAX : 65536;
    default: return (uint32_t)(1 + prop_below(20000));
    }
}

static int prop_has(const uint64_t *ids, size_t n, uint64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

static void prop_model_make(struct prop_model *m)
{
    memset(m, 0, sizeof(*m));
    m->version = 1 + prop_below(prop_below(2) ? 100 : (uint64_t)INT64_MAX);
    m->buckets = prop_buckets();
    m->nunits = 1 + prop_below(6);
    m->unit_of = malloc(m->buckets);
    m->banned = calloc(m->buckets, 1);
    assert_non_null(m->unit_of);
    assert_non_null(m->banned);

    /* ranges: pieces between random split points, each a random unit */
    size_t pieces = 1 + prop_below(prop_below(4) ? 8 : 60);
    uint32_t first = 0;
    for (size_t i = 0; i < pieces && first < m->buckets; i++) {
        uint32_t last = i + 1 == pieces ? m->buckets - 1
                        : first + (uint32_t)prop_below(m->buckets - first);
        memset(m->unit_of + first, (int)prop_below(m->nunits), last - first + 1);
        first = last + 1;
    }
    if (first < m->buckets)
        memset(m->unit_of + first, (int)prop_below(m->nunits), m->buckets - first);

    /* bucket bans: a few random runs (overlaps merge in the model) */
    size_t nbans = prop_below(4) == 0 ? 0 : prop_below(6);
    for (size_t i = 0; i < nbans; i++) {
        uint32_t a = (uint32_t)prop_below(m->buckets);
        uint32_t room = m->buckets - a;
        uint32_t len = (uint32_t)(1 + prop_below(prop_below(2) && room > 5 ? 5 : room));
        memset(m->banned + a, 1, len);
    }

    m->novr = prop_below(3) == 0 ? 0 : prop_below(PROP_OVR_MAX + 1);
    for (size_t i = 0; i < m->novr; i++) {
        uint64_t id;
        do
            id = prop_buyer(m->buckets);
        while (prop_has(m->ovr_id, i, id));
        m->ovr_id[i] = id;
        m->ovr_unit[i] = (int)prop_below(m->nunits);
    }
    m->nbban = prop_below(3) == 0 ? 0 : prop_below(PROP_BBAN_MAX + 1);
    for (size_t i = 0; i < m->nbban; i++) {
        uint64_t id;
        do  /* sometimes ban an override buyer */
            id = m->novr && prop_below(3) == 0 ? m->ovr_id[prop_below(m->novr)]
                                                : prop_buyer(m->buckets);
        while (prop_has(m->bban, i, id));
        m->bban[i] = id;
    }
}

static void prop_model_free(struct prop_model *m)
{
    free(m->unit_of);
    free(m->banned);
}

static int prop_ref_unit(const struct prop_model *m, uint64_t id)
{
    for (size_t i = 0; i < m->novr; i++)
        if (m->ovr_id[i] == id)
            return m->ovr_unit[i];
    return m->unit_of[id % m->buckets];
}

static bool prop_ref_banned(const struct prop_model *m, uint64_t id)
{
    if (prop_has(m->bban, m->nbban, id))
        return true;
    if (prop_has(m->ovr_id, m->novr, id))
        return false;
    return m->banned[id % m->buckets] != 0;
}

/* A number in a random libconfig notation that means the same value. */
static void prop_num(FILE *f, uint64_t v)
{
    switch (prop_below(4)) {
    case 0:  fprintf(f, "%lluL", (unsigned long long)v); break;
    case 1:  fprintf(f, v <= INT32_MAX ? "0x%llx" : "0x%llxL", (unsigned long long)v); break;
    case 2:  fprintf(f, v <= INT32_MAX ? "%llu" : "%lluL", (unsigned long long)v); break;
    default: fprintf(f, v <= INT32_MAX ? "+%llu" : "%lluLL", (unsigned long long)v); break;
    }
}

static void prop_sep(FILE *f)
{
    static const char *const seps[] = { " ", "\n", "\t", "  # note 12345678901234567890\n",
                                        " /* 4294967338 */ ", "\n// x\n" };
    fputs(seps[prop_below(6)], f);
}

/* Shuffle an index array. */
static void prop_shuffle(size_t *idx, size_t n)
{
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = prop_below(i), t = idx[i - 1];
        idx[i - 1] = idx[j];
        idx[j] = t;
    }
}

/*
 * Text of the model in random order and notation: ranges split anywhere
 * (adjacent same-unit pieces stay separate), ban runs split too.
 */
static char *prop_model_text(const struct prop_model *m, size_t *len)
{
    struct piece { uint32_t a, b; int unit; } *rp = malloc(sizeof(*rp) * (m->buckets + 1)),
                                              *bp = malloc(sizeof(*bp) * (m->buckets + 1));
    size_t nrp = 0, nbp = 0, *idx;
    char *text = NULL;
    FILE *f = open_memstream(&text, len);

    assert_non_null(rp);
    assert_non_null(bp);
    assert_non_null(f);
    for (uint32_t b = 0; b < m->buckets; b++) {
        int split = prop_below(m->buckets / 8 + 2) == 0;
        if (nrp && rp[nrp - 1].unit == m->unit_of[b] && !split)
            rp[nrp - 1].b = b;
        else
            rp[nrp++] = (struct piece){ b, b, m->unit_of[b] };
        if (m->banned[b]) {
            if (nbp && bp[nbp - 1].b + 1 == b && !split)
                bp[nbp - 1].b = b;
            else
                bp[nbp++] = (struct piece){ b, b, 0 };
        }
    }

    /* the five top-level settings in random order; empty lists may be left out */
    size_t top[5];
    prop_shuffle(top, 5);
    for (size_t t = 0; t < 5; t++) {
        prop_sep(f);
        switch (top[t]) {
        case 0:
            fputs("version = ", f);
            prop_num(f, m->version);
            fputs(";", f);
            break;
        case 1:
            if (m->buckets != RULES_BUCKETS_DEFAULT || prop_below(2))
                fprintf(f, "buckets = %u;", m->buckets);
            break;
        case 2:
            idx = malloc(sizeof(*idx) * nrp);
            assert_non_null(idx);
            prop_shuffle(idx, nrp);
            fputs("ranges = (", f);
            for (size_t i = 0; i < nrp; i++) {
                const struct piece *p = &rp[idx[i]];
                fputs(i ? "," : "", f);
                prop_sep(f);
                fputs("{ first = ", f);
                prop_num(f, p->a);
                fputs("; last = ", f);
                prop_num(f, p->b);
                fprintf(f, "; unit = \"%s\"; }", PROP_UNITS[p->unit]);
            }
            fputs(");", f);
            free(idx);
            break;
        case 3:
            if (m->novr == 0 && prop_below(2))
                break;
            idx = malloc(sizeof(*idx) * (m->novr + 1));
            assert_non_null(idx);
            prop_shuffle(idx, m->novr);
            fputs("overrides = (", f);
            for (size_t i = 0; i < m->novr; i++) {
                fputs(i ? ", { buyer = " : " { buyer = ", f);
                prop_num(f, m->ovr_id[idx[i]]);
                fprintf(f, "; unit = \"%s\"; }", PROP_UNITS[m->ovr_unit[idx[i]]]);
            }
            fputs(" );", f);
            free(idx);
            break;
        default:
            if (nbp + m->nbban == 0 && prop_below(2))
                break;
            idx = malloc(sizeof(*idx) * (nbp + m->nbban + 1));
            assert_non_null(idx);
            prop_shuffle(idx, nbp + m->nbban);
            fputs("bans = (", f);
            for (size_t i = 0; i < nbp + m->nbban; i++) {
                fputs(i ? ", " : " ", f);
                if (idx[i] < nbp) {
                    fputs("{ first = ", f);
                    prop_num(f, bp[idx[i]].a);
                    fputs("; last = ", f);
                    prop_num(f, bp[idx[i]].b);
                    fputs("; }", f);
                } else {
                    fputs("{ buyer = ", f);
                    prop_num(f, m->bban[idx[i] - nbp]);
                    fputs("; }", f);
                }
            }
            fputs(" );", f);
            free(idx);
            break;
        }
    }
    fputs("\n", f);
    fclose(f);
    free(rp);
    free(bp);
    return text;
}

static int prop_cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* The canonical text, written independently of rules_print. */
static char *prop_model_canonical(const struct prop_model *m)
{
    char *text = NULL;
    size_t len, order[PROP_OVR_MAX];
    uint64_t ids[PROP_OVR_MAX], bban[PROP_BBAN_MAX];
    FILE *f = open_memstream(&text, &len);

    assert_non_null(f);
    fprintf(f, "version = %lluL;\nbuckets = %u;\nranges = (\n",
            (unsigned long long)m->version, m->buckets);
    for (uint32_t a = 0; a < m->buckets;) {
        uint32_t b = a;
        while (b + 1 < m->buckets && m->unit_of[b + 1] == m->unit_of[a])
            b++;
        fprintf(f, "  { first = %u; last = %u; unit = \"%s\"; }%s\n", a, b,
                PROP_UNITS[m->unit_of[a]], b + 1 < m->buckets ? "," : "");
        a = b + 1;
    }
    fputs(");\noverrides = (\n", f);
    memcpy(ids, m->ovr_id, sizeof(ids));
    qsort(ids, m->novr, sizeof(ids[0]), prop_cmp_u64);
    for (size_t i = 0; i < m->novr; i++) {
        for (order[i] = 0; m->ovr_id[order[i]] != ids[i]; order[i]++)
            ;
        fprintf(f, "  { buyer = %lluL; unit = \"%s\"; }%s\n", (unsigned long long)ids[i],
                PROP_UNITS[m->ovr_unit[order[i]]], i + 1 < m->novr ? "," : "");
    }
    fputs(");\nbans = (\n", f);
    int first = 1;
    for (uint32_t a = 0; a < m->buckets; a++) {
        if (!m->banned[a])
            continue;
        uint32_t b = a;
        while (b + 1 < m->buckets && m->banned[b + 1])
            b++;
        fprintf(f, "%s  { first = %u; last = %u; }", first ? "" : ",\n", a, b);
        first = 0;
        a = b;
    }
    memcpy(bban, m->bban, sizeof(bban));
    qsort(bban, m->nbban, sizeof(bban[0]), prop_cmp_u64);
    for (size_t i = 0; i < m->nbban; i++) {
        fprintf(f, "%s  { buyer = %lluL; }", first ? "" : ",\n", (unsigned long long)bban[i]);
        first = 0;
    }
    fputs(first ? ");\n" : "\n);\n", f);
    fclose(f);
    return text;
}

static void prop_check_lookups(const struct prop_model *m, const struct rules *r, int set)
{
    for (int i = 0; i < PROP_LOOKUPS; i++) {
        uint64_t id;
        switch (i % 5) {
        case 0:  id = m->novr ? m->ovr_id[prop_below(m->novr)] : prop_buyer(m->buckets); break;
        case 1:  id = m->nbban ? m->bban[prop_below(m->nbban)] : prop_buyer(m->buckets); break;
        case 2:  id = prop_next(); break;   /* the full 64 bits */
        default: id = prop_buyer(m->buckets); break;
        }
        int unit = rules_unit_for_buyer(r, id);
        bool banned = rules_is_write_banned(r, id);
        if (unit != prop_ref_unit(m, id) || banned != prop_ref_banned(m, id) ||
            rules_bucket_of(r, id) != id % m->buckets) {
            print_error("set %d buyer %llu: unit %d banned %d, reference %d %d\n", set,
                        (unsigned long long)id, unit, banned, prop_ref_unit(m, id),
                        prop_ref_banned(m, id));
            fail();
        }
    }
    /* every bucket (or 1000 random ones), through a buyer id that maps to it */
    for (uint32_t i = 0; i < m->buckets && i < 1000; i++) {
        uint32_t b = m->buckets <= 1000 ? i : (uint32_t)prop_below(m->buckets);
        uint64_t id = b + (uint64_t)m->buckets * prop_below(1000);
        if (rules_unit_for_buyer(r, id) != prop_ref_unit(m, id) ||
            rules_is_write_banned(r, id) != prop_ref_banned(m, id)) {
            print_error("set %d buyer %llu (bucket %u) disagrees with the reference\n", set,
                        (unsigned long long)id, b);
            fail();
        }
    }
}

static void test_property_generated_sets(void **state)
{
    const char *seed_env = getenv("UR_TEST_SEED");
    uint64_t seed = seed_env ? strtoull(seed_env, NULL, 0) : 20261121;

    (void)state;
    prop_rng = seed;
    print_message("property test: %d rule sets, seed %llu (UR_TEST_SEED)\n", PROP_SETS,
                  (unsigned long long)seed);
    for (int set = 0; set < PROP_SETS; set++) {
        struct prop_model m;
        size_t len, plen, plen2;
        char err[512];

        prop_model_make(&m);
        char *text = prop_model_text(&m, &len);
        struct rules *r = rules_parse(text, len, PROP_UNITS, m.nunits, err, sizeof(err));
        if (r == NULL) {
            print_error("set %d: %s\n--- text:\n%s\n", set, err, text);
            fail();
        }
        assert_int_equal(r->version, m.version);
        assert_int_equal(r->buckets, m.buckets);
        prop_check_lookups(&m, r, set);

        /* canonical: the printer's bytes equal an independent rendering */
        char *printed = rules_print(r, &plen);
        char *canonical = prop_model_canonical(&m);
        assert_non_null(printed);
        if (strcmp(printed, canonical) != 0) {
            print_error("set %d: printed\n%s\n--- expected\n%s\n", set, printed, canonical);
            fail();
        }

        /* round trip: parse(print(r)) == r and printing it again is byte-equal */
        struct rules *r2 = rules_parse(printed, plen, PROP_UNITS, m.nunits, err, sizeof(err));
        if (r2 == NULL) {
            print_error("set %d: canonical text does not parse: %s\n%s\n", set, err, printed);
            fail();
        }
        assert_true(rules_equal(r, r2));
        char *printed2 = rules_print(r2, &plen2);
        assert_int_equal(plen, plen2);
        assert_memory_equal(printed, printed2, plen);
        prop_check_lookups(&m, r2, set);

        /* one more version is a different rule set */
        if (m.version < (uint64_t)INT64_MAX) {
            m.version++;
            char *bumped = prop_model_canonical(&m);
            struct rules *r3 = rules_parse(bumped, strlen(bumped), PROP_UNITS, m.nunits,
                                           err, sizeof(err));
            assert_non_null(r3);
            assert_false(rules_equal(r, r3));
            rules_destroy(r3);
            free(bumped);
        }

        free(printed2);
        rules_destroy(r2);
        free(canonical);
        free(printed);
        rules_destroy(r);
        free(text);
        prop_model_free(&m);
    }
}

/*
 * Mutated documents (bytes flipped, deleted, inserted, cut): each either
 * parses, and then round-trips, or fails with a message. Never a crash (the
 * ASan build runs this too).
 */
static void test_mutations_never_crash(void **state)
{
    static const char alphabet[] = "0123456789-+Lx.;,=(){}[]\"#/*\n @abcdefuz\\";
    size_t base_len = strlen(LOOKUP_DOC);
    char *buf = malloc(base_len + 64), err[512];
    int parsed = 0;

    (void)state;
    assert_non_null(buf);
    prop_rng = 99;
    for (int i = 0; i < 20000; i++) {
        size_t len = base_len;
        memcpy(buf, LOOKUP_DOC, len);
        for (int k = 0, edits = 1 + (int)prop_below(4); k < edits && len > 0; k++) {
            size_t at = prop_below(len);
            char c = alphabet[prop_below(sizeof(alphabet) - 1)];
            switch (prop_below(4)) {
            case 0: buf[at] = c; break;
            case 1: memmove(buf + at, buf + at + 1, len - at - 1); len--; break;
            case 2: memmove(buf + at + 1, buf + at, len - at); buf[at] = c; len++; break;
            default: len = at; break;
            }
        }
        err[0] = '\0';
        struct rules *r = rules_parse(buf, len, UNITS, NUNITS, err, sizeof(err));
        if (r == NULL) {
            if (err[0] == '\0') {
                print_error("no error message for:\n%.*s\n", (int)len, buf);
                fail();
            }
            continue;
        }
        parsed++;
        assert_round_trip(r);
        rules_destroy(r);
    }
    print_message("mutations: %d of 20000 still parse (and round-trip)\n", parsed);
    free(buf);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_error_nul_byte),
        cmocka_unit_test(test_error_empty),
        cmocka_unit_test(test_error_too_large),
        cmocka_unit_test(test_error_units),
        cmocka_unit_test(test_parse_uses_len_only),
        cmocka_unit_test(test_integer_notations),
        cmocka_unit_test(test_strings_where_valid),
        cmocka_unit_test(test_lookup_ranges),
        cmocka_unit_test(test_lookup_overrides),
        cmocka_unit_test(test_lookup_bucket_bans),
        cmocka_unit_test(test_lookup_buyer_bans),
        cmocka_unit_test(test_lookup_override_ignores_bucket_ban),
        cmocka_unit_test(test_lookup_many_overrides),
        cmocka_unit_test(test_canonical_example_conf),
        cmocka_unit_test(test_canonical_normalizes),
        cmocka_unit_test(test_equal_detects_each_difference),
        cmocka_unit_test(test_property_generated_sets),
        cmocka_unit_test(test_mutations_never_crash),
    };
    size_t nfixed = sizeof(fixed) / sizeof(fixed[0]);
    struct CMUnitTest tests[NERROR_CASES + sizeof(fixed) / sizeof(fixed[0])];
    char names[NERROR_CASES][64];

    for (size_t i = 0; i < NERROR_CASES; i++) {
        snprintf(names[i], sizeof(names[i]), "error_%s", ERROR_CASES[i].name);
        tests[i] = (struct CMUnitTest){ names[i], test_error_case, NULL, NULL,
                                        (void *)&ERROR_CASES[i] };
    }
    for (size_t i = 0; i < nfixed; i++)
        tests[NERROR_CASES + i] = fixed[i];
    return _cmocka_run_group_tests("rules", tests, NERROR_CASES + nfixed, NULL, NULL);
}
