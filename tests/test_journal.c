/* tests for control/journal: append, read back, torn and corrupt lines. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control/journal.h"

struct tmp {
    char dir[64];
    char path[128];
};

static int tmp_setup(void **state)
{
    struct tmp *t = calloc(1, sizeof(*t));
    snprintf(t->dir, sizeof(t->dir), "/tmp/test_journal.XXXXXX");
    assert_non_null(mkdtemp(t->dir));
    snprintf(t->path, sizeof(t->path), "%s/journal.log", t->dir);
    *state = t;
    return 0;
}

static int tmp_teardown(void **state)
{
    struct tmp *t = *state;
    unlink(t->path);
    rmdir(t->dir);
    free(t);
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    *len = fread(buf, 1, 65535, f);
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
}

struct collect {
    char steps[16][JOURNAL_STEP_MAX];
    uint64_t seqs[16];
    size_t n;
};

static int collect_visit(void *ctx, const struct journal_record *r)
{
    struct collect *c = ctx;
    if (c->n < 16) {
        snprintf(c->steps[c->n], JOURNAL_STEP_MAX, "%s", r->step);
        c->seqs[c->n] = r->seq;
        c->n++;
    }
    return 0;
}

static void append_three(const char *path)
{
    char err[256];
    struct journal *j = journal_open(path, NULL, err, sizeof(err));
    assert_non_null(j);
    struct journal_field f1[] = { { "from", "dc-b" }, { "to", "dc-a" },
                                  { "sel", "buckets:5000-5999" } };
    assert_int_equal(journal_append(j, "c1", "begin", 0, f1, 3, err, sizeof(err)), 0);
    struct journal_field f2[] = { { "version", "2" } };
    assert_int_equal(journal_append(j, "c1", "ban_push", 0, f2, 1, err, sizeof(err)), 0);
    struct journal_field f3[] = { { "pos", "0-1-10,1-2-33 weird=value #x %" } };
    assert_int_equal(journal_append(j, "c1", "ban_point", 0, f3, 1, err, sizeof(err)), 0);
    assert_int_equal(journal_count(j), 3);
    journal_close(j);
}

static void test_append_and_read_back(void **state)
{
    struct tmp *t = *state;
    char err[256];
    struct journal_report rep;

    append_three(t->path);
    struct journal *j = journal_open(t->path, &rep, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(rep.records, 3);
    assert_int_equal(rep.torn_bytes, 0);
    struct collect c = { 0 };
    journal_foreach(j, collect_visit, &c);
    assert_int_equal(c.n, 3);
    assert_string_equal(c.steps[0], "begin");
    assert_string_equal(c.steps[2], "ban_point");
    assert_int_equal(c.seqs[2], 3);

    /* appends continue the sequence */
    assert_int_equal(journal_append(j, "c1", "done", 0, NULL, 0, err, sizeof(err)), 0);
    memset(&c, 0, sizeof(c));
    journal_foreach(j, collect_visit, &c);
    assert_int_equal(c.n, 4);
    assert_int_equal(c.seqs[3], 4);
    journal_close(j);

    /* values are encoded on one line */
    size_t len;
    char *data = slurp(t->path, &len);
    assert_non_null(strstr(data, " pos=0-1-10,1-2-33%20weird%3Dvalue%20%23x%20%25 #"));
    assert_int_equal(data[len - 1], '\n');
    free(data);
}

static int get_pos_visit(void *ctx, const struct journal_record *r)
{
    char *out = ctx;
    if (strcmp(r->step, "ban_point") == 0 && journal_record_get(r, "pos", out, 256) != NULL)
        return 1;
    return 0;
}

static void test_record_get(void **state)
{
    struct tmp *t = *state;
    char err[256], out[256] = "";

    append_three(t->path);
    struct journal *j = journal_open(t->path, NULL, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(journal_foreach(j, get_pos_visit, out), 1);
    assert_string_equal(out, "0-1-10,1-2-33 weird=value #x %");
    journal_close(j);

    struct journal_record r = { .fields = (char *)"a=1 ab=2 b=%41%4" };
    char v[16];
    assert_string_equal(journal_record_get(&r, "ab", v, sizeof(v)), "2");
    assert_string_equal(journal_record_get(&r, "a", v, sizeof(v)), "1");
    assert_string_equal(journal_record_get(&r, "b", v, sizeof(v)), "A%4");
    assert_null(journal_record_get(&r, "c", v, sizeof(v)));
    /* truncation to the caller's buffer */
    assert_string_equal(journal_record_get(&r, "b", v, 2), "A");
}

static void test_torn_last_line_ignored(void **state)
{
    struct tmp *t = *state;
    char err[256];
    struct journal_report rep;
    size_t len;

    append_three(t->path);
    char *data = slurp(t->path, &len);
    /* cut the last record in the middle: no newline */
    spit(t->path, data, len - 7);
    struct journal *j = journal_open(t->path, &rep, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(rep.records, 2);
    assert_int_equal(rep.torn_line, 3);
    assert_true(rep.torn_bytes > 0);
    /* the torn bytes are gone: the next record starts on a clean line */
    assert_int_equal(journal_append(j, "c1", "rollback_push", 0, NULL, 0, err, sizeof(err)), 0);
    journal_close(j);
    j = journal_open(t->path, &rep, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(rep.records, 3);
    assert_int_equal(rep.torn_bytes, 0);
    struct collect c = { 0 };
    journal_foreach(j, collect_visit, &c);
    assert_string_equal(c.steps[2], "rollback_push");
    assert_int_equal(c.seqs[2], 3);
    journal_close(j);
    free(data);
}

static void test_bad_crc_on_last_line_is_torn(void **state)
{
    struct tmp *t = *state;
    char err[256];
    struct journal_report rep;
    size_t len;

    append_three(t->path);
    char *data = slurp(t->path, &len);
    data[len - 12] ^= 1; /* a flipped byte inside the last record */
    spit(t->path, data, len);
    struct journal *j = journal_open(t->path, &rep, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(rep.records, 2);
    assert_int_equal(rep.torn_line, 3);
    journal_close(j);
    free(data);
}

static void test_corrupt_middle_refused(void **state)
{
    struct tmp *t = *state;
    char err[256] = "";
    size_t len;

    append_three(t->path);
    char *data = slurp(t->path, &len);
    char *second = strchr(data, '\n') + 1;
    second[3] ^= 1;
    spit(t->path, data, len);
    struct journal *j = journal_open(t->path, NULL, err, sizeof(err));
    assert_null(j);
    assert_non_null(strstr(err, ":2: corrupt journal record"));
    free(data);
}

static void test_garbage_line_refused(void **state)
{
    struct tmp *t = *state;
    char err[256] = "";
    const char text[] = "hello world\nmore\n";

    spit(t->path, text, sizeof(text) - 1);
    assert_null(journal_open(t->path, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, ":1:"));
}

static void test_bad_words_refused(void **state)
{
    struct tmp *t = *state;
    char err[256];
    struct journal *j = journal_open(t->path, NULL, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(journal_append(j, "c 1", "begin", 0, NULL, 0, err, sizeof(err)), -1);
    assert_int_equal(journal_append(j, "c1", "", 0, NULL, 0, err, sizeof(err)), -1);
    struct journal_field bad[] = { { "a b", "x" } };
    assert_int_equal(journal_append(j, "c1", "begin", 0, bad, 1, err, sizeof(err)), -1);
    assert_int_equal(journal_count(j), 0);
    journal_close(j);
    /* nothing was written */
    struct stat st;
    assert_int_equal(stat(t->path, &st), 0);
    assert_int_equal(st.st_size, 0);
}

static void test_unreadable_path(void **state)
{
    (void)state;
    char err[256] = "";
    assert_null(journal_open("/nonexistent-dir/x/journal.log", NULL, err, sizeof(err)));
    assert_non_null(strstr(err, "nonexistent"));
}

static void test_empty_file(void **state)
{
    struct tmp *t = *state;
    char err[256];
    struct journal_report rep;

    spit(t->path, "", 0);
    struct journal *j = journal_open(t->path, &rep, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(rep.records, 0);
    journal_close(j);
}

static uint32_t crc32_of(const char *p, size_t len)
{
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned char)p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* Write records given as bodies, each with its correct " #crc": whole lines. */
static void spit_records(const char *path, const char *const *bodies, size_t n)
{
    char text[1024];
    size_t len = 0;
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s #%08x\n", bodies[i],
                                crc32_of(bodies[i], strlen(bodies[i])));
    assert_true(len < sizeof(text));
    spit(path, text, len);
}

/* Found by fuzz_journal: "%39s" cut a longer id and read its rest as the step. */
static void test_overlong_id_refused(void **state)
{
    struct tmp *t = *state;
    char err[256] = "";
    const char *const bodies[] = {
        "1 1 aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa begin",
        "2 2 c1 end",
    };

    spit_records(t->path, bodies, 2);
    assert_null(journal_open(t->path, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, ":1: corrupt journal record"));
}

/* Found by fuzz_journal: an id or step journal_append refuses, or a signed number. */
static void test_unwritable_tokens_refused(void **state)
{
    struct tmp *t = *state;
    const char *const cases[][2] = {
        { "1 1 c\x82 begin", "2 2 c1 end" },
        { "1 1 c1 bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "2 2 c1 end" },
        { "+1 1 c1 begin", "2 2 c1 end" },
        { "1 -1 c1 begin", "2 2 c1 end" },
        { "1  1 c1 begin", "2 2 c1 end" },
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char err[256] = "";
        spit_records(t->path, cases[i], 2);
        assert_null(journal_open(t->path, NULL, err, sizeof(err)));
        assert_non_null(strstr(err, ":1: corrupt journal record"));
    }
}

/* Found by fuzz_journal: whole lines lost or copied in went unnoticed. */
static void test_out_of_sequence_refused(void **state)
{
    struct tmp *t = *state;
    char err[256] = "";
    const char *const gap[] = { "1 1 c1 begin", "3 2 c1 banned", "4 3 c1 end" };
    const char *const last[] = { "1 1 c1 begin", "1 2 c1 begin" };

    spit_records(t->path, gap, 3);
    assert_null(journal_open(t->path, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, ":2: corrupt journal: record 3 where 2 was due"));
    /* a whole, checksummed last line is no torn write: refused, not cut off */
    spit_records(t->path, last, 2);
    assert_null(journal_open(t->path, NULL, err, sizeof(err)));
    assert_non_null(strstr(err, ":2: corrupt journal: record 1 where 2 was due"));
}

static void test_leading_zeros_read(void **state)
{
    struct tmp *t = *state;
    char err[256];
    struct journal_report rep;
    const char *const bodies[] = { "01 0005 c1 begin k=v", "2 6 c1 end" };

    spit_records(t->path, bodies, 2);
    struct journal *j = journal_open(t->path, &rep, err, sizeof(err));
    assert_non_null(j);
    assert_int_equal(rep.records, 2);
    assert_int_equal(rep.torn_bytes, 0);
    journal_close(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_append_and_read_back, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_record_get, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_torn_last_line_ignored, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_bad_crc_on_last_line_is_torn, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_garbage_line_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_bad_words_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test(test_unreadable_path),
        cmocka_unit_test_setup_teardown(test_empty_file, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_overlong_id_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_unwritable_tokens_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_out_of_sequence_refused, tmp_setup, tmp_teardown),
        cmocka_unit_test_setup_teardown(test_leading_zeros_read, tmp_setup, tmp_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
