/*
 * gw_headers: which headers a proxy passes on (RFC 9110 section 7.6.1) and
 * what it adds: X-Forwarded-For, X-Forwarded-Proto, Via, the hop header.
 * Pure string work plus two thin adapters to libmicrohttpd and libcurl.
 */
#ifndef UR_GW_HEADERS_H
#define UR_GW_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <microhttpd.h>

/*
 * True if name must not be forwarded: a hop-by-hop header (Connection,
 * Keep-Alive, Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade,
 * Proxy-Authenticate, Proxy-Authorization) or one named in the Connection
 * header's value (connection may be NULL).
 */
bool gw_header_is_hop_by_hop(const char *name, const char *connection);

/* What the gateway adds to a request it forwards. */
struct gw_forward_info {
    const char *client_ip;      /* appended to X-Forwarded-For */
    const char *via;            /* our Via entry, e.g. "1.1 unitgw-dc-a" */
    const char *hop_header;     /* always stripped from the client's headers */
    const char *hop_value;      /* set: add hop_header with it (forward mode) */
    bool        body;           /* the request has a body (curl must not type it) */
};

/*
 * Upstream request headers for conn: the client's end-to-end headers (minus
 * Content-Length, Expect and what we set), plus ours. NULL on allocation
 * failure. The list is one allocation: the caller frees it with free(), not
 * curl_slist_free_all.
 */
struct curl_slist *gw_headers_request(struct MHD_Connection *conn,
                                      const struct gw_forward_info *f);

/* One response header line "Name: value\r\n" split; returns -1 if malformed. */
int gw_header_split(const char *line, size_t len, char *name, size_t namecap,
                    const char **value, size_t *valuelen);

/*
 * Add the upstream's response header lines (raw "Name: value\r\n"...) to
 * resp, minus hop-by-hop headers (also those named by any Connection line)
 * and framing (Content-Length, Transfer-Encoding), appending via to the
 * first Via (or adding it alone if there is none). keep_unit: pass X-Unit and
 * X-Unit-Home through (answer of another gateway); otherwise drop them.
 * *has_unit is set when X-Unit was passed. *content_length gets the
 * upstream's Content-Length, or -1.
 */
void gw_headers_response(struct MHD_Response *resp, const char *lines, size_t len,
                         const char *via, bool keep_unit, bool *has_unit,
                         long long *content_length);

#endif
