/*
 * fuzz_route_request.c: the gateway's routing decision on a request a client
 * wrote (gateway/route.h): method, path, query, the buyerId header and the
 * Cookie header all come from the fuzz bytes, as do the hop fields and the
 * table's mode, ban policy and own unit.
 *
 * Input: 2 control bytes, then fields separated by '\n':
 *   method, path, query, X-Buyer-Id value, Cookie value
 * (a missing field: no query / no such header).
 *
 * Properties:
 *  - route_buyer_parse agrees with an independent reference (1 to 20
 *    decimal digits, fits uint64) on the raw input and on every field;
 *  - route_query_param and route_cookie_value return a value inside the
 *    input, right after "name=", at the start of an item, without the
 *    separator in it;
 *  - route_match returns the longest matching prefix;
 *  - route_decide: the action follows from the matched entry, the buyer and
 *    the rules; a write for a banned buyer is never served nor sent on;
 *    LOCAL only when this unit is the target (or a trusted hop); a hopped
 *    request that would leave again is never forwarded or redirected.
 */
#include <string.h>
#include <strings.h>

#include "gateway/route.h"
#include "tests/fuzz/fuzz.h"

enum { F_METHOD, F_PATH, F_QUERY, F_BUYER, F_COOKIE, F_COUNT };

struct fuzz_req {
    char *field[F_COUNT];       /* NUL-terminated copies, NULL if absent */
    size_t len[F_COUNT];
};

struct fuzz_world {
    struct topology    topo;
    struct route_table table;
    struct rules      *rules;
};

/* buckets 0-3 dc-a, 4-6 dc-b, 7-9 dc-c; bucket 5 and buyers 43, 100 banned */
static const char fuzz_rules_text[] =
    "version = 5L; buckets = 10;\n"
    "ranges = ( { first = 0; last = 3; unit = \"dc-a\"; },\n"
    "           { first = 4; last = 6; unit = \"dc-b\"; },\n"
    "           { first = 7; last = 9; unit = \"dc-c\"; } );\n"
    "overrides = ( { buyer = 42L; unit = \"dc-b\"; }, { buyer = 43L; unit = \"dc-c\"; } );\n"
    "bans = ( { first = 5; last = 5; }, { buyer = 43L; }, { buyer = 100L; } );\n";

static struct fuzz_world *fuzz_world_get(void)
{
    static struct fuzz_world w;
    static const char *const names[] = { "dc-a", "dc-b", "dc-c" };
    static const struct route_entry entries[] = {
        { "/api/", ROUTE_TYPE_UNIT, "http://127.0.0.1:7081" },
        { "/api/public/", ROUTE_TYPE_LOCAL, "http://127.0.0.1:7081" },
        { "/center/", ROUTE_TYPE_CENTER, "http://127.0.0.1:7081" },
        { "/", ROUTE_TYPE_LOCAL, "http://127.0.0.1:7081" },
        { "/u", ROUTE_TYPE_UNIT, "http://127.0.0.1:7081" },
    };
    char err[256];

    if (w.rules != NULL)
        return &w;
    for (size_t i = 0; i < 3; i++) {
        snprintf(w.topo.units[i].name, sizeof(w.topo.units[i].name), "%s", names[i]);
        w.topo.unit_names[i] = w.topo.units[i].name;
    }
    w.topo.nunits = 3;
    w.topo.center = 2;
    w.table.topo = &w.topo;
    memcpy(w.table.entries, entries, sizeof(entries));
    w.table.nentries = sizeof(entries) / sizeof(entries[0]);
    w.table.sources[0] = (struct route_source){ ROUTE_SOURCE_HEADER, "X-Buyer-Id" };
    w.table.sources[1] = (struct route_source){ ROUTE_SOURCE_QUERY, "buyerId" };
    w.table.sources[2] = (struct route_source){ ROUTE_SOURCE_COOKIE, "buyer_id" };
    w.table.nsources = 3;
    w.rules = rules_parse(fuzz_rules_text, strlen(fuzz_rules_text), w.topo.unit_names, 3,
                          err, sizeof(err));
    if (w.rules == NULL) {
        fprintf(stderr, "fixture rules: %s\n", err);
        abort();
    }
    return &w;
}

/* The reference: 1 to 20 decimal digits whose value fits uint64. */
static int fuzz_ref_buyer(const char *s, size_t len, uint64_t *out)
{
    unsigned __int128 v = 0;

    if (len == 0 || len > 20)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned)(s[i] - '0');
    }
    if (v > UINT64_MAX)
        return -1;
    *out = (uint64_t)v;
    return 0;
}

static void fuzz_check_buyer_parse(const char *s, size_t len)
{
    uint64_t got = 0, want = 0;
    int rc = route_buyer_parse(s, len, &got);

    FUZZ_CHECK(rc == fuzz_ref_buyer(s, len, &want));
    FUZZ_CHECK(rc != 0 || got == want);
}

/* A value found in s for name: inside s, after "name=" at an item start. */
static void fuzz_check_pair(const char *s, const char *name, char sep, const char *v, size_t len)
{
    size_t slen = s ? strlen(s) : 0, nlen = strlen(name);

    if (v == NULL)
        return;
    FUZZ_CHECK(s != NULL && v >= s + nlen + 1 && v + len <= s + slen);
    FUZZ_CHECK(v[-1] == '=' && memcmp(v - 1 - nlen, name, nlen) == 0);
    const char *item = v - 1 - nlen;
    while (item > s && item[-1] == ' ')
        item--;
    FUZZ_CHECK(item == s || item[-1] == sep);
    FUZZ_CHECK(memchr(v, sep, len) == NULL);
    FUZZ_CHECK(v + len == s + slen || v[len] == sep);
}

static void fuzz_check_pairs(const struct fuzz_req *q)
{
    static const char *const names[] = { "buyerId", "buyer_id", "a", "b" };
    size_t len = 0;

    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        const char *v = route_query_param(q->field[F_QUERY], names[i], &len);
        fuzz_check_pair(q->field[F_QUERY], names[i], '&', v, len);
        v = route_cookie_value(q->field[F_COOKIE], names[i], &len);
        fuzz_check_pair(q->field[F_COOKIE], names[i], ';', v, len);
    }
}

static void fuzz_check_match(const struct route_table *t, const char *path)
{
    const struct route_entry *e = route_match(t, path);

    for (size_t i = 0; i < t->nentries; i++) {
        size_t len = strlen(t->entries[i].prefix);
        if (strncmp(path, t->entries[i].prefix, len) == 0)
            FUZZ_CHECK(e != NULL && strlen(e->prefix) >= len);
    }
    FUZZ_CHECK(e == NULL || strncmp(path, e->prefix, strlen(e->prefix)) == 0);
}

static const char *fuzz_header(void *ctx, const char *name)
{
    const struct fuzz_req *q = ctx;

    if (strcasecmp(name, "X-Buyer-Id") == 0)
        return q->field[F_BUYER];
    if (strcasecmp(name, "Cookie") == 0)
        return q->field[F_COOKIE];
    return NULL;
}

/* The buyer the sources give, as the reference reads them: 1 found, 0 not, -1 bad. */
static int fuzz_expected_buyer(const struct fuzz_req *q, uint64_t *buyer)
{
    const char *v;
    size_t len = 0;

    if (q->field[F_BUYER] != NULL)
        return fuzz_ref_buyer(q->field[F_BUYER], strlen(q->field[F_BUYER]), buyer) == 0 ? 1 : -1;
    if ((v = route_query_param(q->field[F_QUERY], "buyerId", &len)) != NULL ||
        (v = route_cookie_value(q->field[F_COOKIE], "buyer_id", &len)) != NULL)
        return fuzz_ref_buyer(v, len, buyer) == 0 ? 1 : -1;
    return 0;
}

static void fuzz_check_unit_route(const struct fuzz_world *w, const struct rules *r,
                                  const struct route_request *req,
                                  const struct route_decision *d, int found, uint64_t buyer)
{
    if (found != 1) {
        FUZZ_CHECK(d->action == ROUTE_ACTION_BAD_REQUEST && d->reason[0] != '\0');
        return;
    }
    if (r == NULL) {
        FUZZ_CHECK(d->action == ROUTE_ACTION_NO_RULES);
        return;
    }
    int home = rules_unit_for_buyer(r, buyer);
    FUZZ_CHECK(d->home == (d->hop_trusted && req->hop_version > r->version ? w->table.self
                                                                           : home));
    if (!route_method_is_read(req->method) && rules_is_write_banned(r, buyer)) {
        FUZZ_CHECK(d->action == (w->table.ban_policy == ROUTE_BAN_HOLD ? ROUTE_ACTION_HOLD
                                                                       : ROUTE_ACTION_REJECT));
        return;
    }
    FUZZ_CHECK(d->hop_trusted || d->target == home);
}

static void fuzz_check_decision(const struct fuzz_world *w, const struct rules *r,
                                const struct fuzz_req *q, const struct route_request *req)
{
    const struct route_table *t = &w->table;
    struct route_decision d;
    uint64_t buyer = 0;
    int found = fuzz_expected_buyer(q, &buyer);

    route_decide(t, r, req, &d);
    FUZZ_CHECK((unsigned)d.action < ROUTE_ACTION_COUNT);
    FUZZ_CHECK(memchr(d.reason, '\0', sizeof(d.reason)) != NULL);
    FUZZ_CHECK(d.entry == route_match(t, req->path));
    if (d.entry == NULL) {
        FUZZ_CHECK(d.action == ROUTE_ACTION_NOT_FOUND && !d.has_buyer);
        return;
    }
    FUZZ_CHECK(d.has_buyer == (found == 1) && (found != 1 || d.buyer_id == buyer));
    if (d.entry->type == ROUTE_TYPE_UNIT)
        fuzz_check_unit_route(w, r, req, &d, found, buyer);
    else
        FUZZ_CHECK(d.target == (d.entry->type == ROUTE_TYPE_CENTER ? w->topo.center : t->self));
    if (d.action == ROUTE_ACTION_LOCAL)
        FUZZ_CHECK(d.target == t->self);
    if (d.hop_trusted)
        FUZZ_CHECK(d.action == ROUTE_ACTION_LOCAL && req->hopped && !req->hop_forged &&
                   req->hop_version != 0 && r != NULL && req->hop_version != r->version &&
                   d.entry->type == ROUTE_TYPE_UNIT);
    if (d.action == ROUTE_ACTION_FORWARD || d.action == ROUTE_ACTION_REDIRECT) {
        FUZZ_CHECK(!req->hopped);
        FUZZ_CHECK(d.target >= 0 && (size_t)d.target < w->topo.nunits && d.target != t->self);
        FUZZ_CHECK(d.action == (t->mode == ROUTE_MODE_FORWARD ? ROUTE_ACTION_FORWARD
                                                              : ROUTE_ACTION_REDIRECT));
    }
    if (d.action == ROUTE_ACTION_MISDIRECTED)
        FUZZ_CHECK(req->hopped && d.target != t->self);
}

/* Split data at '\n' into the fields; returns 0 or -1 (out of memory). */
static int fuzz_req_split(struct fuzz_req *q, const uint8_t *data, size_t size)
{
    size_t pos = 0;

    memset(q, 0, sizeof(*q));
    for (int i = 0; i < F_COUNT && pos <= size; i++) {
        const uint8_t *nl = memchr(data + pos, '\n', size - pos);
        size_t len = nl ? (size_t)(nl - (data + pos)) : size - pos;
        if ((q->field[i] = malloc(len + 1)) == NULL)
            return -1;
        memcpy(q->field[i], data + pos, len);
        q->field[i][len] = '\0';
        q->len[i] = len;
        pos += len + 1;
    }
    return 0;
}

static void fuzz_req_free(struct fuzz_req *q)
{
    for (int i = 0; i < F_COUNT; i++)
        free(q->field[i]);
}

static void fuzz_check_fields(const struct fuzz_req *q)
{
    for (int i = 0; i < F_COUNT; i++) {
        if (q->field[i] == NULL)
            continue;
        char *exact = malloc(q->len[i] ? q->len[i] : 1);  /* ASan sees a read past it */
        if (exact == NULL)
            return;
        memcpy(exact, q->field[i], q->len[i]);
        fuzz_check_buyer_parse(exact, q->len[i]);
        free(exact);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_world *w = fuzz_world_get();
    struct fuzz_req q;

    fuzz_check_buyer_parse((const char *)data, size);
    if (size < 2)
        return 0;
    uint8_t ctl = data[0], ver = data[1];
    if (fuzz_req_split(&q, data + 2, size - 2) == 0) {
        fuzz_check_fields(&q);
        fuzz_check_pairs(&q);
        fuzz_check_match(&w->table, q.field[F_PATH] ? q.field[F_PATH] : "/");
        w->table.mode = ctl & 1 ? ROUTE_MODE_REDIRECT : ROUTE_MODE_FORWARD;
        w->table.ban_policy = ctl & 2 ? ROUTE_BAN_REJECT : ROUTE_BAN_HOLD;
        w->table.self = (ctl >> 2 & 3) % 3;
        struct route_request req = {
            .method = q.field[F_METHOD] ? q.field[F_METHOD] : "GET",
            .path = q.field[F_PATH] ? q.field[F_PATH] : "/",
            .query = q.field[F_QUERY],
            .header = fuzz_header,
            .header_ctx = &q,
            .hopped = ctl & 16,
            .hop_forged = ctl & 32,
            .hop_version = ver < 8 ? ver : w->rules->version + ver - 8,
        };
        fuzz_check_decision(w, ctl & 64 ? NULL : w->rules, &q, &req);
    }
    fuzz_req_free(&q);
    return 0;
}
