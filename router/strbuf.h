/*
 * strbuf: a growable byte buffer for building text (rule documents, JSON,
 * metrics). An allocation failure sets failed and turns later appends into
 * no-ops, so a caller checks once at the end.
 */
#ifndef UR_STRBUF_H
#define UR_STRBUF_H

#include <stddef.h>

struct strbuf {
    char  *buf;     /* NUL-terminated when cap > 0; owned */
    size_t len;
    size_t cap;
    int    failed;  /* an allocation failed: contents are incomplete */
};

void strbuf_init(struct strbuf *b);
void strbuf_deinit(struct strbuf *b);
void strbuf_reset(struct strbuf *b);
void strbuf_append(struct strbuf *b, const void *data, size_t len);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_printf(struct strbuf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Append s as a JSON string literal, quotes included. */
void strbuf_json_string(struct strbuf *b, const char *s);
/* Hand the buffer to the caller (free), leaving b empty. NULL if failed. */
char *strbuf_steal(struct strbuf *b);

#endif
