#include "journal.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "router/rules_keeper.h"
#include "router/strbuf.h"

struct journal {
    int                    fd;       /* O_APPEND */
    char                   path[PATH_MAX];
    struct journal_record *recs;     /* in file order */
    size_t                 nrecs;
    size_t                 cap;
    uint64_t               next_seq;
    pthread_mutex_t        lock;
};

uint64_t journal_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static uint32_t journal_crc32(const char *p, size_t len)
{
    uint32_t crc = 0xffffffffu;

    for (size_t i = 0; i < len; i++) {
        crc ^= (unsigned char)p[i];
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1u)));
    }
    return ~crc;
}

static int journal_word_char(char c)
{
    unsigned char ch = (unsigned char)c;

    return ch == '_' || ch == '-' || ch == '.' || ch == ':' ||
           (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static int journal_is_word(const char *s, size_t max)
{
    size_t n = 0;

    while (s[n] != '\0' && journal_word_char(s[n]))
        n++;
    return s[n] == '\0' && n > 0 && n < max;
}

/*
 * The token at *p up to the next space or end, as written by journal_append:
 * a decimal number (1 to 20 digits, fits uint64) into *num, or a word
 * shorter than max into word. *p moves past the token and one space.
 * Returns 0, or -1 if the token is not one journal_append writes.
 */
static int journal_take_number(const char **p, const char *end, uint64_t *num)
{
    const char *q = *p;
    uint64_t v = 0;

    for (; q < end && *q != ' '; q++) {
        unsigned d = (unsigned)(*q - '0');
        if (d > 9 || v > (UINT64_MAX - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    if (q == *p || q - *p > 20)
        return -1;
    *num = v;
    *p = q < end ? q + 1 : q;
    return 0;
}

static int journal_take_word(const char **p, const char *end, char *word, size_t max)
{
    const char *q = *p;

    while (q < end && journal_word_char(*q))
        q++;
    if (q == *p || (size_t)(q - *p) >= max || (q < end && *q != ' '))
        return -1;
    memcpy(word, *p, (size_t)(q - *p));
    word[q - *p] = '\0';
    *p = q < end ? q + 1 : q;
    return 0;
}

static void journal_encode(struct strbuf *b, const char *v)
{
    for (; *v != '\0'; v++) {
        unsigned char ch = (unsigned char)*v;
        if (ch <= ' ' || ch == '%' || ch == '=' || ch == '#' || ch == 0x7f)
            strbuf_printf(b, "%%%02X", ch);
        else
            strbuf_append(b, v, 1);
    }
}

static int journal_hex(int ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

const char *journal_record_get(const struct journal_record *r, const char *key,
                               char *out, size_t outlen)
{
    size_t klen = strlen(key);
    const char *p = r->fields;

    while (p != NULL && *p != '\0') {
        const char *end = strchr(p, ' ');
        if (end == NULL)
            end = p + strlen(p);
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = 0;
            for (const char *v = p + klen + 1; v < end && n + 1 < outlen; v++) {
                int hi, lo;
                if (*v == '%' && end - v >= 3 && (hi = journal_hex(v[1])) >= 0 &&
                    (lo = journal_hex(v[2])) >= 0) {
                    out[n++] = (char)(hi * 16 + lo);
                    v += 2;
                } else {
                    out[n++] = *v;
                }
            }
            if (outlen > 0)
                out[n] = '\0';
            return out;
        }
        p = *end ? end + 1 : end;
    }
    return NULL;
}

/* Keep r (its fields pointer moves into the array). Returns 0 or -1. */
static int journal_keep(struct journal *j, const struct journal_record *r)
{
    if (j->nrecs == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 64;
        struct journal_record *n = realloc(j->recs, cap * sizeof(*n));
        if (n == NULL)
            return -1;
        j->recs = n;
        j->cap = cap;
    }
    j->recs[j->nrecs++] = *r;
    j->next_seq = r->seq + 1;
    return 0;
}

/*
 * Parse one line (without its newline) into r. Returns 0, or -1 if it is not
 * a well-formed record with a matching CRC. r->fields is malloc'd on success.
 */
static int journal_parse_line(const char *line, size_t len, struct journal_record *r)
{
    const char *hash = NULL;

    for (size_t i = len; i >= 2; i--)
        if (line[i - 1] == '#' && line[i - 2] == ' ') {
            hash = line + i - 1;
            break;
        }
    if (hash == NULL || line + len - hash != 9)
        return -1;
    uint32_t crc = 0;
    for (int i = 1; i <= 8; i++) {
        int h = journal_hex(hash[i]);
        if (h < 0)
            return -1;
        crc = crc << 4 | (uint32_t)h;
    }
    size_t body_len = (size_t)(hash - 1 - line);
    if (crc != journal_crc32(line, body_len))
        return -1;

    /* exactly what journal_append writes: a record read back means what it
     * meant when written (an id or step too long must not spill into the
     * next token; a sign must not wrap a number) */
    const char *p = line, *end = line + body_len;
    memset(r, 0, sizeof(*r));
    if (body_len >= JOURNAL_LINE_MAX || memchr(line, '\0', body_len) != NULL ||
        journal_take_number(&p, end, &r->seq) < 0 ||
        journal_take_number(&p, end, &r->time_ms) < 0 ||
        journal_take_word(&p, end, r->id, sizeof(r->id)) < 0 ||
        journal_take_word(&p, end, r->step, sizeof(r->step)) < 0)
        return -1;
    r->fields = strndup(p, (size_t)(end - p));
    return r->fields == NULL ? -1 : 0;
}

/* Read the whole file; cut a torn last line off. */
static int journal_read(struct journal *j, struct journal_report *rep, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(j->fd, &st) < 0) {
        snprintf(err, errlen, "%s: %s", j->path, strerror(errno));
        return -1;
    }
    size_t size = (size_t)st.st_size;
    char *data = malloc(size + 1);
    if (data == NULL) {
        snprintf(err, errlen, "%s: out of memory", j->path);
        return -1;
    }
    size_t got = 0;
    while (got < size) {
        ssize_t n = pread(j->fd, data + got, size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: read: %s", j->path, n < 0 ? strerror(errno) : "short");
            free(data);
            return -1;
        }
        got += (size_t)n;
    }
    size_t pos = 0, lineno = 0;
    while (pos < size) {
        char *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
        struct journal_record r;
        lineno++;
        int bad = nl == NULL || journal_parse_line(data + pos, len, &r) < 0;
        if (bad && (nl == NULL || (size_t)(nl - data) + 1 == size)) {
            /* the last line: torn by a crash during its write */
            rep->torn_bytes = size - pos;
            rep->torn_line = lineno;
            if (ftruncate(j->fd, (off_t)pos) < 0 || fsync(j->fd) < 0) {
                snprintf(err, errlen, "%s: cutting torn line %zu: %s", j->path, lineno,
                         strerror(errno));
                free(data);
                return -1;
            }
            break;
        }
        if (bad) {
            snprintf(err, errlen, "%s:%zu: corrupt journal record (bad format or checksum)",
                     j->path, lineno);
            free(data);
            return -1;
        }
        if (r.seq != j->next_seq) {
            /* whole, checksummed lines out of order: lost or copied, not torn */
            snprintf(err, errlen, "%s:%zu: corrupt journal: record %" PRIu64 " where %" PRIu64
                     " was due", j->path, lineno, r.seq, j->next_seq);
            free(r.fields);
            free(data);
            return -1;
        }
        if (journal_keep(j, &r) < 0) {
            free(r.fields);
            snprintf(err, errlen, "%s: out of memory", j->path);
            free(data);
            return -1;
        }
        pos += len + 1;
    }
    rep->records = j->nrecs;
    free(data);
    return 0;
}

struct journal *journal_open(const char *path, struct journal_report *rep,
                             char *err, size_t errlen)
{
    struct journal_report dummy;
    struct journal *j;

    if (rep == NULL)
        rep = &dummy;
    memset(rep, 0, sizeof(*rep));
    if (strlen(path) >= PATH_MAX) {
        snprintf(err, errlen, "journal path too long");
        return NULL;
    }
    j = calloc(1, sizeof(*j));
    if (j == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    snprintf(j->path, sizeof(j->path), "%s", path);
    j->next_seq = 1;
    int existed = access(path, F_OK) == 0;
    j->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (j->fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        goto fail_alloc;
    }
    if (!existed && rules_fsync_dir(path, err, errlen) < 0)
        goto fail_fd;
    if (journal_read(j, rep, err, errlen) < 0)
        goto fail_recs;
    pthread_mutex_init(&j->lock, NULL);
    return j;

fail_recs:
    for (size_t i = 0; i < j->nrecs; i++)
        free(j->recs[i].fields);
    free(j->recs);
fail_fd:
    close(j->fd);
fail_alloc:
    free(j);
    return NULL;
}

void journal_close(struct journal *j)
{
    if (j == NULL)
        return;
    for (size_t i = 0; i < j->nrecs; i++)
        free(j->recs[i].fields);
    free(j->recs);
    close(j->fd);
    pthread_mutex_destroy(&j->lock);
    free(j);
}

/* Build the line for a record; fields of the kept record go to *fields_out. */
static int journal_format(struct strbuf *line, uint64_t seq, uint64_t t, const char *id,
                          const char *step, const struct journal_field *fields,
                          size_t nfields, size_t *fields_off)
{
    strbuf_printf(line, "%" PRIu64 " %" PRIu64 " %s %s", seq, t, id, step);
    *fields_off = line->len + 1;
    for (size_t i = 0; i < nfields; i++) {
        if (!journal_is_word(fields[i].key, 64))
            return -1;
        strbuf_printf(line, " %s=", fields[i].key);
        journal_encode(line, fields[i].value ? fields[i].value : "");
    }
    return 0;
}

int journal_append(struct journal *j, const char *id, const char *step, uint64_t time_ms,
                   const struct journal_field *fields, size_t nfields,
                   char *err, size_t errlen)
{
    struct journal_record r;
    struct strbuf line;
    size_t fields_off;
    int rc = -1;

    if (!journal_is_word(id, JOURNAL_ID_MAX) || !journal_is_word(step, JOURNAL_STEP_MAX)) {
        snprintf(err, errlen, "journal: id and step must be short words");
        return -1;
    }
    memset(&r, 0, sizeof(r));
    strbuf_init(&line);
    pthread_mutex_lock(&j->lock);
    r.seq = j->next_seq;
    r.time_ms = time_ms ? time_ms : journal_now_ms();
    snprintf(r.id, sizeof(r.id), "%s", id);
    snprintf(r.step, sizeof(r.step), "%s", step);
    if (journal_format(&line, r.seq, r.time_ms, id, step, fields, nfields, &fields_off) < 0) {
        snprintf(err, errlen, "journal: field keys must be words");
        goto out;
    }
    size_t body_len = line.len;
    strbuf_printf(&line, " #%08x\n", journal_crc32(line.buf ? line.buf : "", body_len));
    if (line.failed || line.len >= JOURNAL_LINE_MAX) {
        snprintf(err, errlen, "journal: record too long or out of memory");
        goto out;
    }
    r.fields = strndup(fields_off <= body_len ? line.buf + fields_off : "",
                       fields_off <= body_len ? body_len - fields_off : 0);
    if (r.fields == NULL) {
        snprintf(err, errlen, "journal: out of memory");
        goto out;
    }
    if (rules_write_all(j->fd, line.buf, line.len) < 0 || fdatasync(j->fd) < 0) {
        snprintf(err, errlen, "journal %s: write: %s", j->path, strerror(errno));
        goto out;
    }
    if (journal_keep(j, &r) < 0) {
        snprintf(err, errlen, "journal: out of memory");
        goto out;
    }
    r.fields = NULL;
    rc = 0;
out:
    pthread_mutex_unlock(&j->lock);
    free(r.fields);
    strbuf_deinit(&line);
    return rc;
}

int journal_foreach(struct journal *j, journal_visit_fn fn, void *ctx)
{
    int rc = 0;

    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->nrecs && rc == 0; i++)
        rc = fn(ctx, &j->recs[i]);
    pthread_mutex_unlock(&j->lock);
    return rc;
}

size_t journal_count(struct journal *j)
{
    pthread_mutex_lock(&j->lock);
    size_t n = j->nrecs;
    pthread_mutex_unlock(&j->lock);
    return n;
}
