/*
 * fuzz_gw_headers.c: the gateway's header handling (gateway/gw_headers.h) on
 * an upstream's response header lines and on Connection token lists, and
 * the receiving side of the signed hop header (gateway/gw_hop.h).
 *
 * Input: one flag byte (bit 0: keep_unit), then raw header lines
 * "Name: value\r\n"...
 *
 * Properties:
 *  - gw_header_split of every line: a non-empty name without ':' that fits,
 *    a value inside the line without surrounding whitespace or CR/LF;
 *  - gw_header_is_hop_by_hop: every token of a Connection value (separated
 *    by commas and blanks) is hop-by-hop under that value;
 *  - gw_headers_response passes no hop-by-hop header: none of the fixed
 *    list, no framing, none named by ANY Connection line of the response;
 *    (our own Via, added alone, is no upstream header); X-Unit and
 *    X-Unit-Home only with keep_unit (has_unit says whether X-Unit passed);
 *    our Via always ends a Via header;
 *  - gw_hop_verify never accepts a hop value that was not signed with the
 *    secret, whatever the fuzz bytes say.
 */
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "gateway/gw_headers.h"
#include "gateway/gw_hop.h"
#include "tests/fuzz/fuzz.h"

#define FUZZ_VIA "1.1 unitgw-dc-a"

static const char *const fuzz_hop_by_hop[] = {
    "Connection", "Keep-Alive", "Proxy-Connection", "TE", "Trailer", "Transfer-Encoding",
    "Upgrade", "Proxy-Authenticate", "Proxy-Authorization", "Content-Length", NULL
};

/* Length of the line at p (its '\n' included). */
static size_t fuzz_line_len(const char *p, const char *end)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    return nl ? (size_t)(nl - p + 1) : (size_t)(end - p);
}

static void fuzz_check_split(const char *line, size_t len)
{
    char name[128];
    const char *v;
    size_t vl;

    if (gw_header_split(line, len, name, sizeof(name), &v, &vl) < 0)
        return;
    const char *colon = memchr(line, ':', len);
    FUZZ_CHECK(colon != NULL && colon > line && (size_t)(colon - line) < sizeof(name));
    FUZZ_CHECK(memcmp(name, line, (size_t)(colon - line)) == 0 && name[colon - line] == '\0');
    FUZZ_CHECK(v > colon && v + vl <= line + len);
    if (vl > 0) {
        FUZZ_CHECK(v[0] != ' ' && v[0] != '\t');
        FUZZ_CHECK(memchr(" \t\r\n", v[vl - 1], 4) == NULL);
    }
}

/* Every token of list (NUL-terminated) is hop-by-hop under list. */
static void fuzz_check_tokens(const char *list)
{
    char token[256];

    for (const char *p = list; *p != '\0';) {
        size_t n = strcspn(p, ", \t");
        if (n > 0 && n < sizeof(token)) {
            memcpy(token, p, n);
            token[n] = '\0';
            FUZZ_CHECK(gw_header_is_hop_by_hop(token, list));
        }
        p += n + (p[n] != '\0');
    }
}

/* Is name listed by any Connection line of the response? (the reference) */
static bool fuzz_connection_lists(const char *lines, size_t len, const char *name)
{
    const char *p = lines, *end = lines + len;
    char hname[128], list[8192];

    for (size_t l; p < end; p += l) {
        const char *v;
        size_t vl;
        l = fuzz_line_len(p, end);
        if (gw_header_split(p, l, hname, sizeof(hname), &v, &vl) < 0 ||
            strcasecmp(hname, "Connection") != 0 || vl >= sizeof(list))
            continue;
        memcpy(list, v, vl);
        list[vl] = '\0';
        for (char *t = strtok(list, ", \t"); t != NULL; t = strtok(NULL, ", \t"))
            if (strcasecmp(t, name) == 0)
                return true;
    }
    return false;
}

struct fuzz_resp {
    const char *lines;
    size_t      len;
    bool        keep_unit;
    bool        saw_unit;
    bool        our_via;        /* a Via header ends with ours */
};

static enum MHD_Result fuzz_resp_header(void *cls, enum MHD_ValueKind kind,
                                        const char *name, const char *value)
{
    struct fuzz_resp *c = cls;
    size_t vl = strlen(value), ol = strlen(FUZZ_VIA);

    (void)kind;
    for (size_t i = 0; fuzz_hop_by_hop[i] != NULL; i++)
        FUZZ_CHECK(strcasecmp(name, fuzz_hop_by_hop[i]) != 0);
    bool ours_alone = strcasecmp(name, "Via") == 0 && strcmp(value, FUZZ_VIA) == 0;
    FUZZ_CHECK(ours_alone || !fuzz_connection_lists(c->lines, c->len, name));
    if (strcasecmp(name, "X-Unit") == 0 || strcasecmp(name, "X-Unit-Home") == 0)
        FUZZ_CHECK(c->keep_unit);
    c->saw_unit |= strcasecmp(name, "X-Unit") == 0;
    if (strcasecmp(name, "Via") == 0 && vl >= ol && strcmp(value + vl - ol, FUZZ_VIA) == 0)
        c->our_via = true;
    return MHD_YES;
}

static void fuzz_check_response(const char *lines, size_t len, bool keep_unit)
{
    struct fuzz_resp c = { lines, len, keep_unit, false, false };
    bool has_unit;
    long long clen;
    struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);

    if (r == NULL)
        return;
    gw_headers_response(r, lines, len, FUZZ_VIA, keep_unit, &has_unit, &clen);
    MHD_get_response_headers(r, fuzz_resp_header, &c);
    FUZZ_CHECK(has_unit == c.saw_unit);
    FUZZ_CHECK(c.our_via);
    MHD_destroy_response(r);
}

/* A hop parsed from the lines' text verifies only if signed with the secret. */
static void fuzz_check_hop(const char *text)
{
    static const struct rules_secret secret = { "fuzz-secret", 11 };
    struct route_hop hop;
    char sig[RULES_SIGN_HEX_LEN + 1], signed_text[128];

    route_hop_parse(text, &hop);
    if (!gw_hop_verify(&secret, &hop))
        return;
    int n = snprintf(signed_text, sizeof(signed_text), "unitroute-hop %s %llu", hop.sender,
                     (unsigned long long)hop.version);
    FUZZ_CHECK(n > 0 && (size_t)n < sizeof(signed_text));
    rules_sign(&secret, signed_text, (size_t)n, sig);
    FUZZ_CHECK(strcasecmp(sig, hop.sig) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    char *lines = malloc(size);     /* NUL-terminated copy of the lines */
    if (lines == NULL)
        return 0;
    memcpy(lines, data + 1, size - 1);
    lines[size - 1] = '\0';
    const char *end = lines + size - 1;
    for (const char *p = lines; p < end; p += fuzz_line_len(p, end))
        fuzz_check_split(p, fuzz_line_len(p, end));
    fuzz_check_tokens(lines);
    fuzz_check_response(lines, size - 1, data[0] & 1);
    fuzz_check_hop(lines);
    free(lines);
    return 0;
}
