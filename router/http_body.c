#include "http_body.h"

#include <stdlib.h>

struct http_body *http_body_create(size_t max)
{
    struct http_body *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    strbuf_init(&b->buf);
    b->max = max;
    return b;
}

int http_body_take(struct http_body *b, const char *data, size_t *size)
{
    if (*size == 0)
        return 0;
    if (b->buf.len + *size > b->max)
        b->too_large = 1;
    else
        strbuf_append(&b->buf, data, *size);
    *size = 0;
    return 1;
}

void http_body_destroy(struct http_body *b)
{
    if (b == NULL)
        return;
    strbuf_deinit(&b->buf);
    free(b);
}
