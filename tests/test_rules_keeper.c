/*
 * Unit tests for router/rules_keeper: accept statuses, version ordering,
 * durable persistence and loading, torn/edited files, IO errors.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "router/rules_keeper.h"

static const char *const UNITS[] = { "dc-a", "dc-b" };

struct fx {
    char                dir[64];
    char                secret[128];
    char                path[128];        /* persisted rules */
    struct rules_secret key;              /* the same secret, to sign pushes */
    struct rules_keeper k;
    int                 k_live;
};

/* A rule document of version v; variant changes its bytes, not its version. */
static char *doc(uint64_t v, int variant)
{
    char *text = NULL;

    if (asprintf(&text,
                 "version = %lluL;\n"
                 "ranges = ( { first = 0; last = %d; unit = \"dc-a\"; },\n"
                 "           { first = %d; last = 9999; unit = \"dc-b\"; } );\n"
                 "overrides = ( { buyer = 42L; unit = \"dc-b\"; } );\n",
                 (unsigned long long)v, 4999 + variant, 5000 + variant) < 0)
        return NULL;
    return text;
}

static int fx_setup(void **state)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    char err[256];
    FILE *f;

    if (fx == NULL)
        return -1;
    snprintf(fx->dir, sizeof(fx->dir), "/tmp/ur-test-keeper.XXXXXX");
    if (mkdtemp(fx->dir) == NULL)
        return -1;
    snprintf(fx->secret, sizeof(fx->secret), "%s/secret.key", fx->dir);
    snprintf(fx->path, sizeof(fx->path), "%s/rules.conf", fx->dir);
    f = fopen(fx->secret, "w");
    if (f == NULL)
        return -1;
    fputs("keeper-test-secret\n", f);
    fclose(f);
    chmod(fx->secret, 0600);
    if (rules_secret_load(&fx->key, fx->secret, err, sizeof(err)) < 0)
        return -1;
    if (rules_keeper_init(&fx->k, fx->secret, fx->path, UNITS, 2, err, sizeof(err)) < 0)
        return -1;
    fx->k_live = 1;
    *state = fx;
    return 0;
}

/* Remove every file of dir (one level), then dir. */
static void rm_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[512];

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (unlink(p) < 0)
            rm_dir(p);
    }
    closedir(d);
    rmdir(dir);
}

static int fx_teardown(void **state)
{
    struct fx *fx = *state;

    if (fx->k_live)
        rules_keeper_deinit(&fx->k);
    rules_secret_clear(&fx->key);
    rm_dir(fx->dir);
    free(fx);
    return 0;
}

/* Push text to keeper k signed with the test secret. */
static enum rules_accept_status push(struct fx *fx, struct rules_keeper *k, const char *text,
                                     uint64_t *version, char *err, size_t errlen)
{
    char sig[RULES_SIGN_HEX_LEN + 1];

    rules_sign(&fx->key, text, strlen(text), sig);
    return rules_keeper_accept(k, text, strlen(text), sig, version, err, errlen);
}

static void push_expect(struct fx *fx, uint64_t v, int variant, enum rules_accept_status want,
                        uint64_t want_version)
{
    char *text = doc(v, variant), err[256] = "";
    uint64_t version = 12345;

    assert_non_null(text);
    enum rules_accept_status st = push(fx, &fx->k, text, &version, err, sizeof(err));
    if (st != want || version != want_version) {
        print_error("push v%llu: %s (v%llu), wanted %s (v%llu): %s\n", (unsigned long long)v,
                    rules_accept_status_name(st), (unsigned long long)version,
                    rules_accept_status_name(want), (unsigned long long)want_version, err);
        fail();
    }
    free(text);
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;

    if (f == NULL)
        return NULL;
    buf = malloc(1 << 16);
    assert_non_null(buf);
    *len = fread(buf, 1, (1 << 16) - 1, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

static void spit(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---- accept statuses ------------------------------------------------------- */

static void test_accept_applied(void **state)
{
    struct fx *fx = *state;
    struct rules_guard g;

    assert_int_equal(rules_store_version(&fx->k.store), 0);
    assert_null(rules_store_get(&fx->k.store, &g));
    rules_store_put(&fx->k.store, &g);
    push_expect(fx, 1, 0, RULES_ACCEPT_APPLIED, 1);
    const struct rules *r = rules_store_get(&fx->k.store, &g);
    assert_non_null(r);
    assert_int_equal(r->version, 1);
    assert_int_equal(rules_unit_for_buyer(r, 42), 1);
    assert_int_equal(rules_unit_for_buyer(r, 43), 0);
    assert_int_equal(strlen(r->signature), RULES_SIGN_HEX_LEN);
    rules_store_put(&fx->k.store, &g);
    push_expect(fx, 2, 0, RULES_ACCEPT_APPLIED, 2);
    push_expect(fx, 1000, 0, RULES_ACCEPT_APPLIED, 1000);   /* gaps are fine */
    assert_int_equal(rules_store_version(&fx->k.store), 1000);
}

static void test_accept_unchanged_is_idempotent(void **state)
{
    struct fx *fx = *state;
    struct stat before, after;

    push_expect(fx, 3, 0, RULES_ACCEPT_APPLIED, 3);
    assert_int_equal(stat(fx->path, &before), 0);
    for (int i = 0; i < 3; i++)
        push_expect(fx, 3, 0, RULES_ACCEPT_SAME, 3);
    /* nothing was written: the file is the same inode (a write renames) */
    assert_int_equal(stat(fx->path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(rules_accept_http_status(RULES_ACCEPT_SAME), 200);
    assert_string_equal(rules_accept_status_name(RULES_ACCEPT_SAME), "unchanged");
}

static void test_accept_bad_signature(void **state)
{
    struct fx *fx = *state;
    char *text = doc(5, 0), sig[RULES_SIGN_HEX_LEN + 1], err[256] = "";
    uint64_t version;

    push_expect(fx, 1, 0, RULES_ACCEPT_APPLIED, 1);
    rules_sign(&fx->key, text, strlen(text), sig);
    sig[0] = sig[0] == '0' ? '1' : '0';
    assert_int_equal(rules_keeper_accept(&fx->k, text, strlen(text), sig, &version, err,
                                         sizeof(err)), RULES_ACCEPT_BAD_SIGNATURE);
    assert_int_equal(version, 1);
    assert_non_null(strstr(err, "signature"));
    assert_int_equal(rules_keeper_accept(&fx->k, text, strlen(text), NULL, &version, err,
                                         sizeof(err)), RULES_ACCEPT_BAD_SIGNATURE);
    assert_int_equal(rules_keeper_accept(&fx->k, text, strlen(text), "", &version, err,
                                         sizeof(err)), RULES_ACCEPT_BAD_SIGNATURE);
    /* a signature of other bytes */
    rules_sign(&fx->key, text, strlen(text) - 1, sig);
    assert_int_equal(rules_keeper_accept(&fx->k, text, strlen(text), sig, &version, err,
                                         sizeof(err)), RULES_ACCEPT_BAD_SIGNATURE);
    assert_int_equal(rules_store_version(&fx->k.store), 1);
    assert_int_equal(rules_accept_http_status(RULES_ACCEPT_BAD_SIGNATURE), 401);
    assert_string_equal(rules_accept_status_name(RULES_ACCEPT_BAD_SIGNATURE), "bad_signature");
    free(text);
}

static void test_accept_invalid(void **state)
{
    struct fx *fx = *state;
    const char *bad = "version = 9;\nranges = ( { first = 0; last = 9998; unit = \"dc-a\"; } );\n";
    const char *unknown = "version = 9;\nranges = ( { first = 0; last = 9999; unit = \"dc-z\"; } );\n";
    char err[256] = "";
    uint64_t version;

    push_expect(fx, 1, 0, RULES_ACCEPT_APPLIED, 1);
    assert_int_equal(push(fx, &fx->k, bad, &version, err, sizeof(err)), RULES_ACCEPT_INVALID);
    assert_non_null(strstr(err, "line 2: gap: buckets 9999-9999"));
    assert_int_equal(version, 1);
    assert_int_equal(push(fx, &fx->k, unknown, &version, err, sizeof(err)), RULES_ACCEPT_INVALID);
    assert_non_null(strstr(err, "unknown unit \"dc-z\""));
    assert_int_equal(push(fx, &fx->k, "", &version, err, sizeof(err)), RULES_ACCEPT_INVALID);
    assert_int_equal(rules_store_version(&fx->k.store), 1);
    assert_int_equal(rules_accept_http_status(RULES_ACCEPT_INVALID), 400);
    assert_string_equal(rules_accept_status_name(RULES_ACCEPT_INVALID), "invalid");
}

static void test_accept_stale(void **state)
{
    struct fx *fx = *state;
    char err[256];
    uint64_t version;

    push_expect(fx, 5, 0, RULES_ACCEPT_APPLIED, 5);
    push_expect(fx, 4, 0, RULES_ACCEPT_STALE, 5);
    push_expect(fx, 1, 1, RULES_ACCEPT_STALE, 5);
    char *text = doc(2, 0);
    assert_int_equal(push(fx, &fx->k, text, &version, err, sizeof(err)), RULES_ACCEPT_STALE);
    assert_non_null(strstr(err, "version 2 is older than the current version 5"));
    free(text);
    assert_int_equal(rules_store_version(&fx->k.store), 5);
    assert_int_equal(rules_accept_http_status(RULES_ACCEPT_STALE), 409);
    assert_string_equal(rules_accept_status_name(RULES_ACCEPT_STALE), "stale");
}

static void test_accept_conflict(void **state)
{
    struct fx *fx = *state;
    struct rules_guard g;
    char err[256];
    uint64_t version;

    push_expect(fx, 6, 0, RULES_ACCEPT_APPLIED, 6);
    push_expect(fx, 6, 1, RULES_ACCEPT_CONFLICT, 6);
    /* one byte more (a trailing newline) is other bytes too */
    char *text = doc(6, 0), *longer = NULL;
    assert_true(asprintf(&longer, "%s\n", text) > 0);
    assert_int_equal(push(fx, &fx->k, longer, &version, err, sizeof(err)), RULES_ACCEPT_CONFLICT);
    assert_non_null(strstr(err, "version 6 is current with a different body"));
    const struct rules *r = rules_store_get(&fx->k.store, &g);
    assert_int_equal(r->source_len, strlen(text));
    assert_memory_equal(r->source, text, strlen(text));
    rules_store_put(&fx->k.store, &g);
    assert_int_equal(rules_accept_http_status(RULES_ACCEPT_CONFLICT), 409);
    assert_string_equal(rules_accept_status_name(RULES_ACCEPT_CONFLICT), "conflict");
    assert_int_equal(rules_accept_http_status(RULES_ACCEPT_IO_ERROR), 500);
    assert_string_equal(rules_accept_status_name(RULES_ACCEPT_IO_ERROR), "io_error");
    assert_int_equal(rules_accept_http_status(RULES_ACCEPT_APPLIED), 200);
    assert_string_equal(rules_accept_status_name(RULES_ACCEPT_APPLIED), "applied");
    free(text);
    free(longer);
}

static void test_accept_uppercase_signature(void **state)
{
    struct fx *fx = *state;
    char *text = doc(8, 0), sig[RULES_SIGN_HEX_LEN + 1], err[256] = "";
    uint64_t version;
    size_t len;

    rules_sign(&fx->key, text, strlen(text), sig);
    for (char *p = sig; *p; p++)
        if (*p >= 'a' && *p <= 'f')
            *p = (char)(*p - 'a' + 'A');
    assert_int_equal(rules_keeper_accept(&fx->k, text, strlen(text), sig, &version, err,
                                         sizeof(err)), RULES_ACCEPT_APPLIED);
    /* persisted and kept in lowercase */
    rules_sign(&fx->key, text, strlen(text), sig);
    char *file = slurp(fx->path, &len);
    assert_non_null(file);
    assert_non_null(strstr(file, sig));
    free(file);
    free(text);
}

/* ---- persistence ------------------------------------------------------------ */

static void test_persist_and_reload(void **state)
{
    struct fx *fx = *state;
    char *text = doc(7, 0), sig[RULES_SIGN_HEX_LEN + 1], head[128], err[256] = "";
    struct rules_keeper k2;
    struct rules_guard g1, g2;
    size_t len;

    push_expect(fx, 7, 0, RULES_ACCEPT_APPLIED, 7);
    /* the file: signature line, then the exact pushed bytes */
    char *file = slurp(fx->path, &len);
    assert_non_null(file);
    rules_sign(&fx->key, text, strlen(text), sig);
    snprintf(head, sizeof(head), "%s%s\n", RULES_KEEPER_SIG_PREFIX, sig);
    assert_int_equal(len, strlen(head) + strlen(text));
    assert_memory_equal(file, head, strlen(head));
    assert_memory_equal(file + strlen(head), text, strlen(text));
    struct stat st;
    assert_int_equal(stat(fx->path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    free(file);

    /* a new keeper on the same file loads it, equal to what was applied */
    for (int round = 0; round < 2; round++) {
        assert_int_equal(rules_keeper_init(&k2, fx->secret, fx->path, UNITS, 2, err,
                                           sizeof(err)), 0);
        assert_int_equal(rules_keeper_load(&k2, err, sizeof(err)), 1);
        const struct rules *a = rules_store_get(&fx->k.store, &g1);
        const struct rules *b = rules_store_get(&k2.store, &g2);
        assert_non_null(b);
        assert_true(rules_equal(a, b));
        assert_string_equal(b->signature, sig);
        assert_int_equal(b->source_len, strlen(text));
        assert_memory_equal(b->source, text, strlen(text));
        rules_store_put(&k2.store, &g2);
        rules_store_put(&fx->k.store, &g1);
        /* the loaded keeper goes on from there */
        uint64_t version;
        assert_int_equal(push(fx, &k2, text, &version, err, sizeof(err)), RULES_ACCEPT_SAME);
        char *older = doc(6, 0);
        assert_int_equal(push(fx, &k2, older, &version, err, sizeof(err)), RULES_ACCEPT_STALE);
        free(older);
        rules_keeper_deinit(&k2);
    }
    /* no temp file is left behind */
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.') {
            files++;
            assert_null(strstr(e->d_name, ".tmp"));
        }
    closedir(d);
    assert_int_equal(files, 2);   /* secret.key and rules.conf */
    free(text);
}

static void test_load_missing_file_is_no_rules(void **state)
{
    struct fx *fx = *state;
    struct rules_keeper k2;
    char err[256] = "", path[160];

    assert_int_equal(rules_keeper_load(&fx->k, err, sizeof(err)), 0);
    assert_int_equal(rules_store_version(&fx->k.store), 0);
    /* no persistence at all: nothing to load, pushes still apply */
    assert_int_equal(rules_keeper_init(&k2, fx->secret, NULL, UNITS, 2, err, sizeof(err)), 0);
    assert_int_equal(rules_keeper_load(&k2, err, sizeof(err)), 0);
    char *text = doc(3, 0);
    uint64_t version;
    assert_int_equal(push(fx, &k2, text, &version, err, sizeof(err)), RULES_ACCEPT_APPLIED);
    assert_int_equal(version, 3);
    free(text);
    rules_keeper_deinit(&k2);
    /* a missing directory is also no rules yet */
    snprintf(path, sizeof(path), "%s/none/rules.conf", fx->dir);
    assert_int_equal(rules_keeper_init(&k2, fx->secret, path, UNITS, 2, err, sizeof(err)), 0);
    assert_int_equal(rules_keeper_load(&k2, err, sizeof(err)), 0);
    rules_keeper_deinit(&k2);
}

/* Load path in a fresh keeper: must fail loudly and leave it without rules. */
static void load_must_fail(struct fx *fx, const char *what)
{
    struct rules_keeper k2;
    char err[256] = "";

    assert_int_equal(rules_keeper_init(&k2, fx->secret, fx->path, UNITS, 2, err, sizeof(err)), 0);
    int rc = rules_keeper_load(&k2, err, sizeof(err));
    if (rc != -1 || strstr(err, fx->path) == NULL) {
        print_error("%s: load returned %d, err \"%s\"\n", what, rc, err);
        fail();
    }
    assert_int_equal(rules_store_version(&k2.store), 0);
    rules_keeper_deinit(&k2);
}

static void test_load_truncated_refused(void **state)
{
    struct fx *fx = *state;
    char what[64];
    size_t len;

    push_expect(fx, 11, 0, RULES_ACCEPT_APPLIED, 11);
    char *file = slurp(fx->path, &len);
    assert_non_null(file);
    for (size_t cut = 0; cut < len; cut++) {
        spit(fx->path, file, cut);
        snprintf(what, sizeof(what), "truncated to %zu of %zu bytes", cut, len);
        load_must_fail(fx, what);
    }
    /* the whole file loads: the loop above failed for the right reason */
    spit(fx->path, file, len);
    struct rules_keeper k2;
    char err[256];
    assert_int_equal(rules_keeper_init(&k2, fx->secret, fx->path, UNITS, 2, err, sizeof(err)), 0);
    assert_int_equal(rules_keeper_load(&k2, err, sizeof(err)), 1);
    assert_int_equal(rules_store_version(&k2.store), 11);
    rules_keeper_deinit(&k2);
    free(file);
}

static void test_load_edited_refused(void **state)
{
    struct fx *fx = *state;
    char what[64];
    size_t len;

    push_expect(fx, 12, 0, RULES_ACCEPT_APPLIED, 12);
    char *file = slurp(fx->path, &len);
    assert_non_null(file);
    for (size_t i = 0; i < len; i++) {
        file[i] ^= 0x01;
        spit(fx->path, file, len);
        snprintf(what, sizeof(what), "byte %zu of %zu edited", i, len);
        load_must_fail(fx, what);
        file[i] ^= 0x01;
    }
    /* appended bytes are an edit too */
    char *longer = malloc(len + 2);
    memcpy(longer, file, len);
    memcpy(longer + len, "#\n", 2);
    spit(fx->path, longer, len + 2);
    load_must_fail(fx, "two bytes appended");
    free(longer);
    free(file);
}

/* Signed by the right secret but not valid for this topology: refused. */
static void test_load_signed_invalid_refused(void **state)
{
    struct fx *fx = *state;
    const char *other = "version = 3;\nranges = ( { first = 0; last = 9999; unit = \"dc-z\"; } );\n";
    char sig[RULES_SIGN_HEX_LEN + 1], head[128], err[256];

    rules_sign(&fx->key, other, strlen(other), sig);
    snprintf(head, sizeof(head), "%s%s\n", RULES_KEEPER_SIG_PREFIX, sig);
    assert_int_equal(rules_write_file_durable(fx->path, head, strlen(head), other,
                                              strlen(other), err, sizeof(err)), 0);
    load_must_fail(fx, "signed but invalid");
}

/* ---- IO errors ---------------------------------------------------------------- */

static void test_io_error_keeps_current(void **state)
{
    struct fx *fx = *state;
    struct rules_keeper k2;
    char sub[128], moved[128], path[192], err[256] = "";
    uint64_t version = 99;

    /* a path in a directory that does not exist */
    snprintf(path, sizeof(path), "%s/no-such-dir/rules.conf", fx->dir);
    assert_int_equal(rules_keeper_init(&k2, fx->secret, path, UNITS, 2, err, sizeof(err)), 0);
    char *v1 = doc(1, 0), *v2 = doc(2, 0);
    assert_int_equal(push(fx, &k2, v1, &version, err, sizeof(err)), RULES_ACCEPT_IO_ERROR);
    assert_non_null(strstr(err, "no-such-dir"));
    assert_int_equal(version, 0);
    assert_int_equal(rules_store_version(&k2.store), 0);
    rules_keeper_deinit(&k2);

    /* rules applied, then the directory goes away: the next push fails, v1 stays */
    snprintf(sub, sizeof(sub), "%s/state", fx->dir);
    snprintf(moved, sizeof(moved), "%s/state-moved", fx->dir);
    snprintf(path, sizeof(path), "%s/rules.conf", sub);
    assert_int_equal(mkdir(sub, 0700), 0);
    assert_int_equal(rules_keeper_init(&k2, fx->secret, path, UNITS, 2, err, sizeof(err)), 0);
    assert_int_equal(push(fx, &k2, v1, &version, err, sizeof(err)), RULES_ACCEPT_APPLIED);
    assert_int_equal(rename(sub, moved), 0);
    assert_int_equal(push(fx, &k2, v2, &version, err, sizeof(err)), RULES_ACCEPT_IO_ERROR);
    assert_int_equal(version, 1);
    assert_int_equal(rules_store_version(&k2.store), 1);
    struct rules_guard g;
    const struct rules *r = rules_store_get(&k2.store, &g);
    assert_memory_equal(r->source, v1, strlen(v1));
    rules_store_put(&k2.store, &g);
    /* once the directory is back, the same push applies */
    assert_int_equal(rename(moved, sub), 0);
    assert_int_equal(push(fx, &k2, v2, &version, err, sizeof(err)), RULES_ACCEPT_APPLIED);
    assert_int_equal(version, 2);
    rules_keeper_deinit(&k2);
    free(v1);
    free(v2);
}

static void test_write_file_durable(void **state)
{
    struct fx *fx = *state;
    char path[160], err[256] = "";
    size_t len;

    snprintf(path, sizeof(path), "%s/state.json", fx->dir);
    assert_int_equal(rules_write_file_durable(path, "head\n", 5, "body", 4, err, sizeof(err)), 0);
    char *got = slurp(path, &len);
    assert_non_null(got);
    assert_string_equal(got, "head\nbody");
    free(got);
    assert_int_equal(rules_write_file_durable(path, NULL, 0, "x", 1, err, sizeof(err)), 0);
    got = slurp(path, &len);
    assert_string_equal(got, "x");
    free(got);
    snprintf(path, sizeof(path), "%s/missing/state.json", fx->dir);
    assert_int_equal(rules_write_file_durable(path, NULL, 0, "x", 1, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "missing"));
}

static void test_init_errors(void **state)
{
    struct fx *fx = *state;
    struct rules_keeper k2;
    char err[256] = "", missing[160], longpath[PATH_MAX + 10];

    snprintf(missing, sizeof(missing), "%s/no-secret", fx->dir);
    assert_int_equal(rules_keeper_init(&k2, missing, fx->path, UNITS, 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "no-secret"));
    assert_int_equal(rules_keeper_init(&k2, fx->secret, fx->path, UNITS, 0, err, sizeof(err)), -1);
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(rules_keeper_init(&k2, fx->secret, longpath, UNITS, 2, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "too long"));
}

/* ---- version ordering ---------------------------------------------------------- */

/* Random pushes: the current version only ever grows, to the largest pushed. */
static void test_never_applies_older(void **state)
{
    struct fx *fx = *state;
    uint64_t max = 0, rng = 7;
    char err[256];

    for (int i = 0; i < 300; i++) {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = 1 + (rng >> 33) % 60;
        char *text = doc(v, 0);
        uint64_t version;
        enum rules_accept_status st = push(fx, &fx->k, text, &version, err, sizeof(err));
        enum rules_accept_status want = v > max ? RULES_ACCEPT_APPLIED
                                        : v == max ? RULES_ACCEPT_SAME : RULES_ACCEPT_STALE;
        assert_int_equal(st, want);
        if (v > max)
            max = v;
        assert_int_equal(version, max);
        assert_int_equal(rules_store_version(&fx->k.store), max);
        free(text);
    }
    /* and what survives a restart is the largest */
    struct rules_keeper k2;
    assert_int_equal(rules_keeper_init(&k2, fx->secret, fx->path, UNITS, 2, err, sizeof(err)), 0);
    assert_int_equal(rules_keeper_load(&k2, err, sizeof(err)), 1);
    assert_int_equal(rules_store_version(&k2.store), max);
    rules_keeper_deinit(&k2);
}

/* A reload of an older file (an old backup put back) is refused. */
static void test_reload_never_goes_back(void **state)
{
    struct fx *fx = *state;
    char err[256] = "";
    size_t len5, len6;

    push_expect(fx, 5, 0, RULES_ACCEPT_APPLIED, 5);
    char *file5 = slurp(fx->path, &len5);
    push_expect(fx, 6, 0, RULES_ACCEPT_APPLIED, 6);
    char *file6 = slurp(fx->path, &len6);
    assert_non_null(file5);
    assert_non_null(file6);
    spit(fx->path, file5, len5);
    assert_int_equal(rules_keeper_load(&fx->k, err, sizeof(err)), -1);
    assert_non_null(strstr(err, "version 5 is older than the current version 6"));
    assert_int_equal(rules_store_version(&fx->k.store), 6);
    /* the same version again is fine */
    spit(fx->path, file6, len6);
    assert_int_equal(rules_keeper_load(&fx->k, err, sizeof(err)), 1);
    assert_int_equal(rules_store_version(&fx->k.store), 6);
    free(file5);
    free(file6);
}

struct pusher {
    struct fx *fx;
    int        seed;
    int        bad;    /* a push answered something impossible */
};

static void *pusher_main(void *arg)
{
    struct pusher *p = arg;
    char err[256];

    for (int i = 0; i < 120; i++) {
        uint64_t v = 1 + (uint64_t)((i * 37 + p->seed * 11) % 120), version;
        char *text = doc(v, 0);
        enum rules_accept_status st = push(p->fx, &p->fx->k, text, &version, err, sizeof(err));
        switch (st) {
        case RULES_ACCEPT_APPLIED:
        case RULES_ACCEPT_SAME:  p->bad |= version != v; break;
        case RULES_ACCEPT_STALE: p->bad |= version <= v; break;
        default:                 p->bad = 1; break;
        }
        free(text);
    }
    return NULL;
}

/* Concurrent pushers in any order end at the largest version. */
static void test_concurrent_pushes(void **state)
{
    struct fx *fx = *state;
    struct pusher p[3];
    pthread_t t[3];

    for (int i = 0; i < 3; i++) {
        p[i] = (struct pusher){ fx, i + 1, 0 };
        assert_int_equal(pthread_create(&t[i], NULL, pusher_main, &p[i]), 0);
    }
    uint64_t last = 0;
    for (int i = 0; i < 2000; i++) {
        uint64_t v = rules_store_version(&fx->k.store);
        assert_true(v >= last);
        last = v;
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        assert_false(p[i].bad);
    }
    assert_int_equal(rules_store_version(&fx->k.store), 120);
}

#define T(f) cmocka_unit_test_setup_teardown(f, fx_setup, fx_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_accept_applied),
        T(test_accept_unchanged_is_idempotent),
        T(test_accept_bad_signature),
        T(test_accept_invalid),
        T(test_accept_stale),
        T(test_accept_conflict),
        T(test_accept_uppercase_signature),
        T(test_persist_and_reload),
        T(test_load_missing_file_is_no_rules),
        T(test_load_truncated_refused),
        T(test_load_edited_refused),
        T(test_load_signed_invalid_refused),
        T(test_io_error_keeps_current),
        T(test_write_file_durable),
        T(test_init_errors),
        T(test_never_applies_older),
        T(test_reload_never_goes_back),
        T(test_concurrent_pushes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
