/*
 * http_body: collecting a request body in a libmicrohttpd access handler,
 * shared by the admin listener and the control center's API.
 *
 *   handler call 1          -> http_body_create(): *con_cls, MHD_YES
 *   calls with upload data  -> http_body_take(): appended (or marked too
 *                              large and dropped), MHD_YES
 *   last call               -> the body is complete: answer
 *   request completed       -> http_body_destroy(*con_cls)
 */
#ifndef UR_HTTP_BODY_H
#define UR_HTTP_BODY_H

#include <stddef.h>

#include "strbuf.h"

struct http_body {
    struct strbuf buf;       /* the bytes so far; owned */
    size_t        max;       /* larger bodies are dropped, too_large set */
    int           too_large;
};

/* A new, empty body accepting up to max bytes; NULL when out of memory. */
struct http_body *http_body_create(size_t max);

/*
 * Take one upload chunk (*size bytes at data) and set *size to 0.
 * Returns 1 if there was a chunk (the handler answers MHD_YES and waits for
 * more), 0 if the body is complete.
 */
int http_body_take(struct http_body *b, const char *data, size_t *size);

/* NULL is a no-op. */
void http_body_destroy(struct http_body *b);

#endif
