/*
 * loadgen counters: a small table of named counters (loadgen run counts
 * errors by kind and responses by serving unit with it). Fixed size, no
 * allocation: past LG_KINDS_MAX names the last entry becomes "other" and
 * collects the rest.
 */
#ifndef LOADGEN_COUNTERS_H
#define LOADGEN_COUNTERS_H

#include <stddef.h>
#include <stdint.h>

#include "tests/tools/loadgen/common.h"

#define LG_KINDS_MAX      64

struct lg_counter {
    char     name[LG_NAME_MAX];
    uint64_t count;
};

/* Embedded in its user and zeroed to start; nothing to release. */
struct lg_counters {
    struct lg_counter item[LG_KINDS_MAX];
    size_t            n;            /* entries in use, in order of first add */
};

/* Counts one more of name (copied, truncated to LG_NAME_MAX - 1). */
void lg_counters_add(struct lg_counters *c, const char *name);

/* The sum of every counter. */
uint64_t lg_counters_total(const struct lg_counters *c);

/* One "indent name count" line per counter on stdout, "(none)" if empty. */
void lg_counters_print(const struct lg_counters *c, const char *indent);

/* "name:count,name:count" (or "-") on stdout, for a machine-readable line. */
void lg_counters_print_flat(const struct lg_counters *c);

#endif
