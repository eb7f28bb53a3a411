/*
 * loadgen common: what both halves of loadgen (run and check) use: the
 * size limits of names they share, the clocks and the parsing of numeric
 * arguments and password files.
 */
#ifndef LOADGEN_COMMON_H
#define LOADGEN_COMMON_H

#include <stddef.h>
#include <stdint.h>

#define LG_NAME_MAX       48    /* error kinds, unit counters, database names */
#define LG_UNIT_MAX       33    /* a unit name (X-Unit, orders.unit) and its NUL */

/* Microseconds on the monotonic clock (durations, deadlines). */
int64_t lg_now_us(void);

/* Milliseconds since the epoch (the acks file's unix_ms). */
int64_t lg_wall_ms(void);

/* Parses a decimal in [min, max] into *out; 0, or -1 if invalid (*out kept). */
int lg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out);

/*
 * Reads the first line of path, without its line end, into out (outlen
 * bytes, caller's buffer); 0, or -1 if the file cannot be opened (reported
 * on stderr).
 */
int lg_read_password(const char *path, char *out, size_t outlen);

#endif
