/*
 * journal: the control center's append-only record of every cutover step.
 *
 * One record per line, written and fsynced BEFORE the step it describes
 * acts, so a control center killed at any moment finds on restart the last
 * step it had decided on:
 *
 *   <seq> <time_ms> <id> <step> [key=value ...] #<crc32 hex>\n
 *
 * seq counts records from 1; time_ms is the wall clock in milliseconds; id
 * names the cutover; step is a word chosen by the caller (control/cutover.c
 * defines them). Values are percent-encoded (space, '%', '=', '#', control
 * bytes), so a record is always one line. The CRC-32 covers everything before
 * " #".
 *
 * Reading back: a last line without its newline or with a bad CRC is a write
 * torn by a crash; it is ignored, reported to the caller and cut off so the
 * next append starts on a clean line. A bad line anywhere else is corruption:
 * the journal refuses to open. So is a line journal_append would not have
 * written (an id or step too long or not a word, a number with a sign) and a
 * record whose seq is not the one due (lines lost or copied in).
 *
 * Thread-safe: appends and readers are serialized by a mutex. Status
 * convention: 0 / -1 with the reason in the caller's err buffer.
 */
#ifndef UR_JOURNAL_H
#define UR_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#define JOURNAL_ID_MAX     40
#define JOURNAL_STEP_MAX   32
#define JOURNAL_LINE_MAX   (64 * 1024)

struct journal_field {
    const char *key;    /* [A-Za-z0-9_]+ */
    const char *value;  /* any text; encoded on write */
};

struct journal_record {
    uint64_t seq;
    uint64_t time_ms;
    char     id[JOURNAL_ID_MAX];
    char     step[JOURNAL_STEP_MAX];
    char    *fields;    /* "k=v k=v", values still encoded; owned */
};

struct journal_report {
    size_t records;     /* good records read */
    size_t torn_bytes;  /* bytes of a torn last line cut off, 0 if none */
    uint64_t torn_line; /* its line number, 0 if none */
};

struct journal;

/*
 * Open (creating it if missing) and read back the journal at path. rep gets
 * what was read. Returns a journal owned by the caller (journal_close), or
 * NULL with the reason in err (unreadable, corrupt in the middle).
 */
struct journal *journal_open(const char *path, struct journal_report *rep,
                             char *err, size_t errlen);

void journal_close(struct journal *j);

/*
 * Append one record and fsync it. time_ms 0 = now. Keys must be words and
 * id/step must be words (no spaces); values may be anything. Returns 0, or -1
 * (err) and nothing is recorded in memory (the line may be torn on disk, and
 * the next open cuts it off).
 */
int journal_append(struct journal *j, const char *id, const char *step, uint64_t time_ms,
                   const struct journal_field *fields, size_t nfields,
                   char *err, size_t errlen);

/*
 * Call fn for every record in order, under the journal's lock (fn must not
 * call back into j). Stops early when fn returns non-zero and returns that.
 */
typedef int (*journal_visit_fn)(void *ctx, const struct journal_record *r);
int journal_foreach(struct journal *j, journal_visit_fn fn, void *ctx);

/*
 * Value of key in r decoded into out (NUL-terminated, truncated to outlen).
 * Returns out, or NULL if r has no such key.
 */
const char *journal_record_get(const struct journal_record *r, const char *key,
                               char *out, size_t outlen);

/* Number of records. */
size_t journal_count(struct journal *j);

/* Milliseconds of the wall clock. */
uint64_t journal_now_ms(void);

#endif
