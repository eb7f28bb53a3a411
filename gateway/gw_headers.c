#include "gw_headers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "router/strbuf.h"

#define GW_HEADER_NAME_MAX 128

static const char *const gw_hop_by_hop[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization", NULL
};

static bool gw_is_token_sep(char c)
{
    return c == ' ' || c == '\t' || c == ',' || c == '\0';
}

/* Is name one of the comma-separated tokens of list (len bytes)? */
static bool gw_token_listed(const char *list, size_t len, const char *name)
{
    const char *end = list + len;
    size_t nlen = strlen(name);

    while (list < end) {
        while (list < end && gw_is_token_sep(*list))
            list++;
        const char *tok = list;
        while (list < end && !gw_is_token_sep(*list))
            list++;
        if ((size_t)(list - tok) == nlen && nlen > 0 && strncasecmp(tok, name, nlen) == 0)
            return true;
    }
    return false;
}

static bool gw_is_fixed_hop_by_hop(const char *name)
{
    for (size_t i = 0; gw_hop_by_hop[i] != NULL; i++)
        if (strcasecmp(name, gw_hop_by_hop[i]) == 0)
            return true;
    return false;
}

bool gw_header_is_hop_by_hop(const char *name, const char *connection)
{
    return gw_is_fixed_hop_by_hop(name) ||
           (connection != NULL && gw_token_listed(connection, strlen(connection), name));
}

/*
 * The upstream request's header list is built in one allocation: curl only
 * reads a curl_slist, so its nodes and their "Name: value" lines can share a
 * block (one malloc and one free a request instead of two of each a line).
 * Two passes over the client's headers: count, then fill.
 */
struct gw_req_ctx {
    const struct gw_forward_info *f;
    const char *connection;     /* every Connection header's tokens, or NULL */
    const char *xff;            /* the client's X-Forwarded-For */
    const char *xfp;
    const char *via;
    bool        has_accept;
    bool        has_type;       /* the client sent a Content-Type */
    size_t      n;              /* lines */
    size_t      bytes;          /* their text, NULs included */
    struct curl_slist *nodes;   /* fill pass: the block's nodes, else NULL */
    char       *text;           /* fill pass: where the next line's text goes */
};

/* One line "name: value" (value NULL: "name:", which makes curl omit it). */
static void gw_list_put(struct gw_req_ctx *c, const char *name, const char *value)
{
    size_t len = strlen(name) + 1 + (value ? 1 + strlen(value) : 0) + 1;

    if (c->nodes != NULL) {
        struct curl_slist *node = &c->nodes[c->n];
        node->data = c->text;
        node->next = NULL;
        if (c->n > 0)
            c->nodes[c->n - 1].next = node;
        snprintf(c->text, len, value ? "%s: %s" : "%s:", name, value ? value : "");
        c->text += len;
    }
    c->n++;
    c->bytes += len;
}

static enum MHD_Result gw_req_header(void *cls, enum MHD_ValueKind kind,
                                     const char *name, const char *value)
{
    struct gw_req_ctx *c = cls;

    (void)kind;
    if (value == NULL)
        value = "";
    if (strcasecmp(name, "X-Forwarded-For") == 0)
        c->xff = value;
    else if (strcasecmp(name, "X-Forwarded-Proto") == 0)
        c->xfp = value;
    else if (strcasecmp(name, "Via") == 0)
        c->via = value;
    else if (gw_header_is_hop_by_hop(name, c->connection) ||
             strcasecmp(name, "Content-Length") == 0 || strcasecmp(name, "Expect") == 0 ||
             strcasecmp(name, c->f->hop_header) == 0)
        return MHD_YES;
    else {
        if (strcasecmp(name, "Accept") == 0)
            c->has_accept = true;
        else if (strcasecmp(name, "Content-Type") == 0)
            c->has_type = true;
        gw_list_put(c, name, value);
    }
    return MHD_YES;
}

/* What we add: X-Forwarded-*, Via, the hop header, and curl's defaults off. */
static void gw_list_put_ours(struct gw_req_ctx *c, const char *xff, const char *via)
{
    gw_list_put(c, "X-Forwarded-For", xff);
    gw_list_put(c, "X-Forwarded-Proto", c->xfp != NULL ? c->xfp : "http");
    gw_list_put(c, "Via", via);
    if (c->f->hop_value != NULL)
        gw_list_put(c, c->f->hop_header, c->f->hop_value);
    gw_list_put(c, "Expect", NULL);         /* curl adds these unless told not to */
    if (!c->has_accept)
        gw_list_put(c, "Accept", NULL);
    if (c->f->body && !c->has_type)
        gw_list_put(c, "Content-Type", NULL);   /* curl types a POST body itself */
}

/* Join the values of every Connection header into the strbuf cls. */
static enum MHD_Result gw_req_connection(void *cls, enum MHD_ValueKind kind,
                                         const char *name, const char *value)
{
    struct strbuf *b = cls;

    (void)kind;
    if (strcasecmp(name, "Connection") == 0 && value != NULL) {
        if (b->len > 0)
            strbuf_append(b, ",", 1);
        strbuf_puts(b, value);
    }
    return MHD_YES;
}

/*
 * A request may carry several Connection headers: each lists hop-by-hop
 * headers (RFC 9110 section 5.3), so all their tokens are dropped, not only
 * the first header's.
 */
struct curl_slist *gw_headers_request(struct MHD_Connection *conn,
                                      const struct gw_forward_info *f)
{
    struct gw_req_ctx c = { .f = f };
    struct curl_slist *block = NULL;
    struct strbuf connection;
    char xff[1024], via[1024];

    strbuf_init(&connection);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, gw_req_connection, &connection);
    if (connection.failed)
        goto out;
    c.connection = connection.buf;
    MHD_get_connection_values(conn, MHD_HEADER_KIND, gw_req_header, &c);
    if (c.xff != NULL && c.xff[0] != '\0')
        snprintf(xff, sizeof(xff), "%s, %s", c.xff, f->client_ip);
    else
        snprintf(xff, sizeof(xff), "%s", f->client_ip);
    if (c.via != NULL && c.via[0] != '\0')
        snprintf(via, sizeof(via), "%s, %s", c.via, f->via);
    else
        snprintf(via, sizeof(via), "%s", f->via);
    gw_list_put_ours(&c, xff, via);

    size_t n = c.n, bytes = c.bytes;
    block = malloc(n * sizeof(*block) + bytes);
    if (block == NULL)
        goto out;
    c.n = c.bytes = 0;
    c.nodes = block;
    c.text = (char *)(block + n);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, gw_req_header, &c);
    gw_list_put_ours(&c, xff, via);
out:
    strbuf_deinit(&connection);
    return block;
}

int gw_header_split(const char *line, size_t len, char *name, size_t namecap,
                    const char **value, size_t *valuelen)
{
    const char *colon = memchr(line, ':', len);

    if (colon == NULL || colon == line || (size_t)(colon - line) >= namecap)
        return -1;
    memcpy(name, line, (size_t)(colon - line));
    name[colon - line] = '\0';
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    *value = v;
    *valuelen = (size_t)(end - v);
    return 0;
}

/*
 * The values of every Connection line among the lines, joined by ',' into
 * out: each lists hop-by-hop headers, however long it is and however many
 * there are (RFC 9110 section 5.3).
 */
static void gw_find_connection(const char *lines, size_t len, struct strbuf *out)
{
    const char *p = lines, *end = lines + len;
    char name[GW_HEADER_NAME_MAX];

    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        const char *v;
        size_t vl;
        if (gw_header_split(p, l, name, sizeof(name), &v, &vl) == 0 &&
            strcasecmp(name, "Connection") == 0) {
            if (out->len > 0)
                strbuf_append(out, ",", 1);
            strbuf_append(out, v, vl);
        }
        p += l;
    }
}

void gw_headers_response(struct MHD_Response *resp, const char *lines, size_t len,
                         const char *via, bool keep_unit, bool *has_unit,
                         long long *content_length)
{
    const char *p = lines, *end = lines + len;
    char name[GW_HEADER_NAME_MAX], value[4096];
    struct strbuf connection;
    bool via_done = false;

    *has_unit = false;
    *content_length = -1;
    strbuf_init(&connection);
    gw_find_connection(lines, len, &connection);
    /* out of memory: which headers are hop-by-hop is unknown, pass none */
    while (p < end && !connection.failed) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        const char *v;
        size_t vl;
        int ok = gw_header_split(p, l, name, sizeof(name), &v, &vl);
        p += l;
        /* a NUL in a value is malformed (RFC 9110 section 5.5) and would cut
         * off what we append to it */
        if (ok < 0 || vl >= sizeof(value) - strlen(via) - 3 || memchr(v, '\0', vl) != NULL)
            continue;
        memcpy(value, v, vl);
        value[vl] = '\0';
        if (strcasecmp(name, "Content-Length") == 0) {
            *content_length = strtoll(value, NULL, 10);
            continue;
        }
        if (gw_is_fixed_hop_by_hop(name) ||
            gw_token_listed(connection.buf ? connection.buf : "", connection.len, name))
            continue;
        bool unit = strcasecmp(name, "X-Unit") == 0;
        if ((unit || strcasecmp(name, "X-Unit-Home") == 0) && !keep_unit)
            continue;
        bool ours = strcasecmp(name, "Via") == 0 && !via_done;
        if (ours)
            snprintf(value + vl, sizeof(value) - vl, ", %s", via);
        /* libmicrohttpd refuses a value with a CR or LF in it: then it did
         * not pass (the caller adds its own X-Unit, our Via goes alone) */
        bool added = MHD_add_response_header(resp, name, value) == MHD_YES;
        *has_unit |= unit && added;
        via_done |= ours && added;
    }
    strbuf_deinit(&connection);
    if (!via_done)
        MHD_add_response_header(resp, "Via", via);
}
