/*
 * fuzz_journal.c: the control center's journal reader (control/journal.h),
 * which replays an on-disk file after a crash: the file may be torn or
 * corrupt.
 *
 * Input: one mode byte, then the file. With mode bit 0 set, every complete
 * line of the file gets a correct " #<crc32>" appended first, so the fuzzer
 * reaches the record parser behind the checksum.
 *
 * Properties:
 *  - journal_open never crashes or leaks; it refuses with a reason, or
 *    reads a prefix of good records;
 *  - what it kept is exactly the file now: a torn last line is cut off
 *    (torn_bytes), the rest ends with a newline;
 *  - every record read is what its line says: the line starts with
 *    "<seq> <time_ms> <id> <step>" exactly as the record has them (nothing
 *    cut, split or wrapped), id and step are words of the lengths
 *    journal_append allows, and seq counts from 1 without a gap;
 *  - the journal stays usable: reopening reads the same records with
 *    nothing torn, and a record appended then reads back, its value
 *    decoded to the bytes written.
 */
#include <stdbool.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "control/journal.h"
#include "router/strbuf.h"
#include "tests/fuzz/fuzz.h"

static char fuzz_dir[64], fuzz_path[128];

static void fuzz_remove_dir(void)
{
    unlink(fuzz_path);
    rmdir(fuzz_dir);
}

/* A private directory for the journal file, made once, removed at exit. */
static const char *fuzz_journal_path(void)
{
    if (fuzz_path[0] != '\0')
        return fuzz_path;
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_journal.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(fuzz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    snprintf(fuzz_path, sizeof(fuzz_path), "%s/journal.log", fuzz_dir);
    atexit(fuzz_remove_dir);
    return fuzz_path;
}

static uint32_t fuzz_crc32(const uint8_t *p, size_t len)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc ^= p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

/* The file: data as is, or with a CRC appended to every complete line. */
static int fuzz_file_text(struct strbuf *b, const uint8_t *data, size_t size, int add_crc)
{
    size_t pos = 0;

    while (add_crc && pos < size) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        if (nl == NULL)
            break;
        size_t len = (size_t)(nl - (data + pos));
        strbuf_append(b, (const char *)data + pos, len);
        strbuf_printf(b, " #%08x\n", fuzz_crc32(data + pos, len));
        pos += len + 1;
    }
    strbuf_append(b, (const char *)data + pos, size - pos);
    return b->failed ? -1 : 0;
}

static int fuzz_write_file(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");

    if (f == NULL)
        return -1;
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && n == len ? 0 : -1;
}

/* The kept lines of the file, visited in order with the records. */
struct fuzz_lines {
    const char *p;
    const char *end;
    uint64_t    seq;        /* records seen */
};

static bool fuzz_is_word(const char *s)
{
    return s[0] != '\0' && strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                      "0123456789_-.:") == strlen(s);
}

/* The line's next token at *p is the decimal number want (leading zeros allowed). */
static void fuzz_check_number(const char **p, uint64_t want)
{
    size_t n = strspn(*p, "0123456789");
    char *end;

    FUZZ_CHECK(n > 0 && (*p)[n] == ' ');
    FUZZ_CHECK(strtoull(*p, &end, 10) == want && end == *p + n);
    *p += n + 1;
}

/* The line's next token at *p is exactly want (not cut, not run on). */
static void fuzz_check_token(const char **p, const char *want)
{
    size_t n = strlen(want);

    FUZZ_CHECK(strncmp(*p, want, n) == 0 && (*p)[n] == ' ');
    *p += n + 1;
}

static int fuzz_check_record(void *ctx, const struct journal_record *r)
{
    struct fuzz_lines *l = ctx;
    char v[64];

    FUZZ_CHECK(memchr(r->id, '\0', sizeof(r->id)) != NULL && fuzz_is_word(r->id));
    FUZZ_CHECK(memchr(r->step, '\0', sizeof(r->step)) != NULL && fuzz_is_word(r->step));
    FUZZ_CHECK(r->fields != NULL);
    FUZZ_CHECK(r->seq == ++l->seq);
    const char *nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
    FUZZ_CHECK(nl != NULL);
    fuzz_check_number(&l->p, r->seq);
    fuzz_check_number(&l->p, r->time_ms);
    fuzz_check_token(&l->p, r->id);
    fuzz_check_token(&l->p, r->step);
    l->p = nl + 1;
    journal_record_get(r, "version", v, sizeof(v));
    journal_record_get(r, "a", v, 2);
    return 0;
}

struct fuzz_last {
    char value[256];
    const char *got;
};

static int fuzz_find_last(void *ctx, const struct journal_record *r)
{
    struct fuzz_last *l = ctx;

    l->got = journal_record_get(r, "v", l->value, sizeof(l->value));
    return 0;
}

/* Append one record with value, reopen, and read it back. */
static void fuzz_check_append(const char *path, struct journal *j, size_t kept,
                              const char *value)
{
    struct journal_field f = { "v", value };
    struct journal_report rep;
    struct fuzz_last last = { 0 };
    char err[512];

    FUZZ_CHECK(journal_append(j, "fuzz-id", "step", 1, &f, 1, err, sizeof(err)) == 0);
    journal_close(j);
    j = journal_open(path, &rep, err, sizeof(err));
    if (j == NULL)
        fprintf(stderr, "reopen after append: %s\n", err);
    FUZZ_CHECK(j != NULL);
    FUZZ_CHECK(rep.records == kept + 1 && rep.torn_bytes == 0);
    journal_foreach(j, fuzz_find_last, &last);
    FUZZ_CHECK(last.got != NULL && strcmp(last.value, value) == 0);
    journal_close(j);
}

static void fuzz_check_journal(const char *path, const char *file, size_t file_len,
                               const char *value)
{
    struct fuzz_lines lines = { file, file + file_len, 0 };
    struct journal_report rep, rep2;
    struct stat st;
    char err[512];

    err[0] = '\0';
    struct journal *j = journal_open(path, &rep, err, sizeof(err));
    if (j == NULL) {
        FUZZ_CHECK(err[0] != '\0');
        return;
    }
    FUZZ_CHECK(rep.records == journal_count(j));
    FUZZ_CHECK((rep.torn_bytes == 0) == (rep.torn_line == 0));
    FUZZ_CHECK(stat(path, &st) == 0 && (size_t)st.st_size + rep.torn_bytes == file_len);
    journal_foreach(j, fuzz_check_record, &lines);
    journal_close(j);

    j = journal_open(path, &rep2, err, sizeof(err));
    FUZZ_CHECK(j != NULL && rep2.records == rep.records && rep2.torn_bytes == 0);
    fuzz_check_append(path, j, rep.records, value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_journal_path();
    struct strbuf text;
    char value[201];

    if (size < 1 || size > JOURNAL_LINE_MAX * 2)
        return 0;
    /* the appended value: the input's first bytes, any of them but NUL */
    size_t vlen = strnlen((const char *)data + 1, size - 1);
    snprintf(value, sizeof(value), "%.*s", (int)(vlen < 200 ? vlen : 200), data + 1);
    strbuf_init(&text);
    if (fuzz_file_text(&text, data + 1, size - 1, data[0] & 1) == 0 &&
        fuzz_write_file(path, text.buf, text.len) == 0)
        fuzz_check_journal(path, text.buf, text.len, value);
    strbuf_deinit(&text);
    unlink(path);
    return 0;
}
