/*
 * loadgen common: clocks and argument parsing shared by loadgen run and
 * loadgen check (see common.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/tools/loadgen/common.h"

int64_t lg_now_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t lg_wall_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Parses a decimal in [min, max]; 0, or -1 if invalid. */
int lg_parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;

    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

/* Reads the first line of path into out; 0, or -1 (reported on stderr). */
int lg_read_password(const char *path, char *out, size_t outlen)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "loadgen: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    if (fgets(out, (int)outlen, f) == NULL)
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}
