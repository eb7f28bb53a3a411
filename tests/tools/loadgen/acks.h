/*
 * loadgen acks: the acks file, the hand-over from loadgen run to loadgen
 * check. One line per acknowledged (2xx) order, after a '#' header line:
 *
 *     order_id buyer_id x_unit gateway unix_ms attempts latency_ms
 *
 * x_unit is "-" when the response named no unit. The checker needs only the
 * first two fields; the rest is for people reading the file.
 */
#ifndef LOADGEN_ACKS_H
#define LOADGEN_ACKS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct lg_ack {
    int64_t order_id;
    int64_t buyer;
};

/* The acks read so far; embedded, zeroed to start, lg_acks_deinit to free. */
struct lg_acks {
    struct lg_ack *item;            /* owned; in file order until sorted */
    size_t         n;
    size_t         cap;             /* allocated entries of item */
};

/* Writes the header line to f (the caller's open file). */
void lg_acks_write_header(FILE *f);

/*
 * Writes one acknowledged order to f, stamped with the wall clock now; unit
 * may be "" (written as "-"). Write errors show in ferror(f).
 */
void lg_acks_write(FILE *f, uint64_t order_id, uint64_t buyer, const char *unit,
                   const char *gateway, uint64_t attempts, int64_t latency_us);

/*
 * Appends the orders of the acks file at path to acks. 0, or -1 if the file
 * cannot be opened, a line is not "order_id buyer_id ..." or memory runs out
 * (reported on stderr); on -1, acks keeps what was appended and stays owned
 * by the caller.
 */
int lg_acks_read(struct lg_acks *acks, const char *path);

/* Frees the entries; acks is empty (and reusable) afterwards. */
void lg_acks_deinit(struct lg_acks *acks);

#endif
