/*
 * strbuf: growable text buffer (see strbuf.h).
 *
 * Every function here has hidden visibility: libconfig.so.9 (1.5) exports its
 * own internal strbuf_append() with another struct layout, and a default-
 * visibility definition in the executable would interpose it, so libconfig's
 * scanner would call ours and crash on the first string in a config file.
 * Hidden, ours is not in the executable's dynamic symbol table and each
 * library keeps its own.
 */
#include "strbuf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STRBUF_HIDDEN __attribute__((visibility("hidden")))

STRBUF_HIDDEN void strbuf_init(struct strbuf *b)
{
    memset(b, 0, sizeof(*b));
}

STRBUF_HIDDEN void strbuf_deinit(struct strbuf *b)
{
    free(b->buf);
    strbuf_init(b);
}

STRBUF_HIDDEN void strbuf_reset(struct strbuf *b)
{
    b->len = 0;
    b->failed = 0;
    if (b->buf != NULL)
        b->buf[0] = '\0';
}

static int strbuf_reserve(struct strbuf *b, size_t extra)
{
    if (b->failed)
        return -1;
    if (b->len + extra + 1 <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + extra + 1)
        cap *= 2;
    char *p = realloc(b->buf, cap);
    if (p == NULL) {
        b->failed = 1;
        return -1;
    }
    b->buf = p;
    b->cap = cap;
    return 0;
}

STRBUF_HIDDEN void strbuf_append(struct strbuf *b, const void *data, size_t len)
{
    if (strbuf_reserve(b, len) < 0)
        return;
    memcpy(b->buf + b->len, data, len);
    b->len += len;
    b->buf[b->len] = '\0';
}

STRBUF_HIDDEN void strbuf_puts(struct strbuf *b, const char *s)
{
    strbuf_append(b, s, strlen(s));
}

STRBUF_HIDDEN void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
    va_list ap;
    char small[256];

    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    if ((size_t)n < sizeof(small)) {
        strbuf_append(b, small, (size_t)n);
        return;
    }
    if (strbuf_reserve(b, (size_t)n) < 0)
        return;
    va_start(ap, fmt);
    vsnprintf(b->buf + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

STRBUF_HIDDEN void strbuf_json_string(struct strbuf *b, const char *s)
{
    strbuf_append(b, "\"", 1);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') {
            char esc[2] = { '\\', (char)ch };
            strbuf_append(b, esc, 2);
        } else if (ch == '\n') {
            strbuf_append(b, "\\n", 2);
        } else if (ch < 0x20) {
            strbuf_printf(b, "\\u%04x", ch);
        } else {
            strbuf_append(b, s, 1);
        }
    }
    strbuf_append(b, "\"", 1);
}

STRBUF_HIDDEN char *strbuf_steal(struct strbuf *b)
{
    char *p = b->buf;

    if (b->failed) {
        strbuf_deinit(b);
        return NULL;
    }
    if (p == NULL)
        p = calloc(1, 1);
    strbuf_init(b);
    return p;
}
