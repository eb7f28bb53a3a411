/*
 * fuzz_http_body.c: collecting a request body from libmicrohttpd's upload
 * chunks (router/http_body.h), as the admin listener and the control
 * center's API do with whatever a client sends.
 *
 * Input: one byte for the limit (0 to 255 * 4 bytes), then chunks, each a
 * length byte and that many bytes (the last one cut short if the input
 * ends); a last call with no data ends the body.
 *
 * Properties: a call with data returns 1 and consumes it (*size = 0), the
 * final empty call returns 0; the body never holds more than the limit;
 * too_large is set exactly when the chunks add up to more than the limit,
 * and otherwise the body is the chunks' bytes in order.
 */
#include <string.h>

#include "router/http_body.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = (size_t)data[0] * 4, pos = 1, total = 0;
    uint8_t *all = malloc(size);    /* the chunks' bytes, concatenated */
    struct http_body *b = http_body_create(max);

    if (all == NULL || b == NULL)
        goto out;
    while (pos < size) {
        size_t want = data[pos++];
        size_t n = want < size - pos ? want : size - pos;
        char *chunk = malloc(n ? n : 1);    /* exact size: ASan sees overreads */
        if (chunk == NULL)
            goto out;
        memcpy(chunk, data + pos, n);
        memcpy(all + total, chunk, n);
        size_t left = n;
        FUZZ_CHECK(http_body_take(b, chunk, &left) == (n > 0));
        FUZZ_CHECK(left == 0);
        free(chunk);
        pos += n;
        total += n;
    }
    size_t none = 0;
    FUZZ_CHECK(http_body_take(b, NULL, &none) == 0);
    FUZZ_CHECK(b->buf.len <= max && !b->buf.failed);
    FUZZ_CHECK(b->too_large == (total > max));
    if (!b->too_large)
        FUZZ_CHECK(b->buf.len == total && (total == 0 || memcmp(b->buf.buf, all, total) == 0));
out:
    http_body_destroy(b);
    free(all);
    return 0;
}
