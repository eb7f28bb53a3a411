/*
 * loadgen counters: named counters, errors by kind and requests by unit
 * (see counters.h).
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "tests/tools/loadgen/counters.h"

void lg_counters_add(struct lg_counters *c, const char *name)
{
    size_t i;

    for (i = 0; i < c->n; i++)
        if (strcmp(c->item[i].name, name) == 0)
            break;
    if (i == c->n) {
        if (c->n == LG_KINDS_MAX) {
            i = LG_KINDS_MAX - 1;   /* the last one collects the rest */
            snprintf(c->item[i].name, LG_NAME_MAX, "other");
        } else {
            snprintf(c->item[c->n++].name, LG_NAME_MAX, "%s", name);
        }
    }
    c->item[i].count++;
}

uint64_t lg_counters_total(const struct lg_counters *c)
{
    uint64_t total = 0;

    for (size_t i = 0; i < c->n; i++)
        total += c->item[i].count;
    return total;
}

void lg_counters_print(const struct lg_counters *c, const char *indent)
{
    for (size_t i = 0; i < c->n; i++)
        printf("%s%-28s %" PRIu64 "\n", indent, c->item[i].name, c->item[i].count);
    if (c->n == 0)
        printf("%s(none)\n", indent);
}

/* "name:count,name:count" (or "-") for the machine-readable line */
void lg_counters_print_flat(const struct lg_counters *c)
{
    for (size_t i = 0; i < c->n; i++)
        printf("%s%s:%" PRIu64, i ? "," : "", c->item[i].name, c->item[i].count);
    if (c->n == 0)
        printf("-");
}
