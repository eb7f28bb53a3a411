#include "gw_headers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GW_HEADER_NAME_MAX 128

static const char *const gw_hop_by_hop[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer",
    "Transfer-Encoding", "Upgrade", "Proxy-Authenticate", "Proxy-Authorization", NULL
};

/* Is name one of the comma-separated tokens of list? */
static bool gw_token_listed(const char *list, const char *name)
{
    size_t nlen = strlen(name);

    while (list != NULL && *list != '\0') {
        while (*list == ' ' || *list == '\t' || *list == ',')
            list++;
        const char *end = list;
        while (*end != '\0' && *end != ',' && *end != ' ' && *end != '\t')
            end++;
        if ((size_t)(end - list) == nlen && nlen > 0 && strncasecmp(list, name, nlen) == 0)
            return true;
        list = end;
    }
    return false;
}

bool gw_header_is_hop_by_hop(const char *name, const char *connection)
{
    for (size_t i = 0; gw_hop_by_hop[i] != NULL; i++)
        if (strcasecmp(name, gw_hop_by_hop[i]) == 0)
            return true;
    return gw_token_listed(connection, name);
}

/*
 * The upstream request's header list is built in one allocation: curl only
 * reads a curl_slist, so its nodes and their "Name: value" lines can share a
 * block (one malloc and one free a request instead of two of each a line).
 * Two passes over the client's headers: count, then fill.
 */
struct gw_req_ctx {
    const struct gw_forward_info *f;
    const char *connection;
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

struct curl_slist *gw_headers_request(struct MHD_Connection *conn,
                                      const struct gw_forward_info *f)
{
    struct gw_req_ctx c = { .f = f };
    char xff[1024], via[1024];

    c.connection = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Connection");
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
    struct curl_slist *block = malloc(n * sizeof(*block) + bytes);
    if (block == NULL)
        return NULL;
    c.n = c.bytes = 0;
    c.nodes = block;
    c.text = (char *)(block + n);
    MHD_get_connection_values(conn, MHD_HEADER_KIND, gw_req_header, &c);
    gw_list_put_ours(&c, xff, via);
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

/* The Connection header's value among the lines, copied into out ("" if none). */
static void gw_find_connection(const char *lines, size_t len, char *out, size_t outcap)
{
    const char *p = lines, *end = lines + len;
    char name[GW_HEADER_NAME_MAX];

    out[0] = '\0';
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        const char *v;
        size_t vl;
        if (gw_header_split(p, l, name, sizeof(name), &v, &vl) == 0 &&
            strcasecmp(name, "Connection") == 0 && vl < outcap) {
            memcpy(out, v, vl);
            out[vl] = '\0';
        }
        p += l;
    }
}

void gw_headers_response(struct MHD_Response *resp, const char *lines, size_t len,
                         const char *via, bool keep_unit, bool *has_unit,
                         long long *content_length)
{
    const char *p = lines, *end = lines + len;
    char name[GW_HEADER_NAME_MAX], value[4096], connection[512];
    bool via_done = false;

    *has_unit = false;
    *content_length = -1;
    gw_find_connection(lines, len, connection, sizeof(connection));
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t l = nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
        const char *v;
        size_t vl;
        int ok = gw_header_split(p, l, name, sizeof(name), &v, &vl);
        p += l;
        if (ok < 0 || vl >= sizeof(value) - strlen(via) - 3)
            continue;
        memcpy(value, v, vl);
        value[vl] = '\0';
        if (strcasecmp(name, "Content-Length") == 0) {
            *content_length = strtoll(value, NULL, 10);
            continue;
        }
        if (gw_header_is_hop_by_hop(name, connection))
            continue;
        bool unit = strcasecmp(name, "X-Unit") == 0;
        if (unit || strcasecmp(name, "X-Unit-Home") == 0) {
            if (!keep_unit)
                continue;
            *has_unit |= unit;
        }
        if (strcasecmp(name, "Via") == 0 && !via_done) {
            snprintf(value + vl, sizeof(value) - vl, ", %s", via);
            via_done = true;
        }
        MHD_add_response_header(resp, name, value);
    }
    if (!via_done)
        MHD_add_response_header(resp, "Via", via);
}
