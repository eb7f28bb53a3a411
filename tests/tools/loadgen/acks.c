/*
 * loadgen acks: writing and reading the acks file (the format is in
 * acks.h).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "tests/tools/loadgen/acks.h"
#include "tests/tools/loadgen/common.h"

void lg_acks_write_header(FILE *f)
{
    fprintf(f, "# order_id buyer_id x_unit gateway unix_ms attempts latency_ms\n");
}

void lg_acks_write(FILE *f, uint64_t order_id, uint64_t buyer, const char *unit,
                   const char *gateway, uint64_t attempts, int64_t latency_us)
{
    fprintf(f, "%" PRIu64 " %" PRIu64 " %s %s %" PRId64 " %" PRIu64 " %.3f\n", order_id,
            buyer, unit[0] ? unit : "-", gateway, lg_wall_ms(), attempts,
            latency_us / 1000.0);
}

static int lg_acks_append(struct lg_acks *acks, int64_t order, int64_t buyer)
{
    if (acks->n == acks->cap) {
        size_t n = acks->cap ? acks->cap * 2 : 4096;
        struct lg_ack *p = realloc(acks->item, n * sizeof(*p));
        if (p == NULL)
            return -1;
        acks->item = p;
        acks->cap = n;
    }
    acks->item[acks->n].order_id = order;
    acks->item[acks->n++].buyer = buyer;
    return 0;
}

int lg_acks_read(struct lg_acks *acks, const char *path)
{
    FILE *f = fopen(path, "r");
    char line[1024];
    unsigned lineno = 0;
    long long order, buyer;

    if (f == NULL) {
        fprintf(stderr, "loadgen check: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    while (fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (line[0] == '#' || line[0] == '\n')
            continue;
        if (sscanf(line, "%lld %lld", &order, &buyer) != 2 ||
            lg_acks_append(acks, order, buyer) < 0) {
            fprintf(stderr, "loadgen check: %s:%u: not \"order_id buyer_id ...\"\n", path,
                    lineno);
            fclose(f);
            return -1;
        }
    }
    fclose(f);
    return 0;
}

void lg_acks_deinit(struct lg_acks *acks)
{
    free(acks->item);
    acks->item = NULL;
    acks->n = acks->cap = 0;
}
