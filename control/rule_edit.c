#include "rule_edit.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "router/strbuf.h"

static int rule_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end;

    if (text[0] < '0' || text[0] > '9')
        return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return -1;
    *out = v;
    return 0;
}

int rule_sel_parse_buckets(const char *text, struct rule_sel *s, char *err, size_t errlen)
{
    char first[32], *dash;
    uint64_t a, b;

    memset(s, 0, sizeof(*s));
    snprintf(first, sizeof(first), "%s", text);
    dash = strchr(first, '-');
    if (dash != NULL)
        *dash = '\0';
    if (strlen(text) >= sizeof(first) || rule_parse_u64(first, RULES_BUCKETS_MAX, &a) < 0 ||
        (dash != NULL && rule_parse_u64(dash + 1, RULES_BUCKETS_MAX, &b) < 0)) {
        snprintf(err, errlen, "buckets \"%s\": expected FIRST-LAST or BUCKET", text);
        return -1;
    }
    if (dash == NULL)
        b = a;
    if (a > b) {
        snprintf(err, errlen, "buckets \"%s\": first is after last", text);
        return -1;
    }
    s->first = (uint32_t)a;
    s->last = (uint32_t)b;
    return 0;
}

int rule_sel_parse_buyer(const char *text, struct rule_sel *s, char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    if (rule_parse_u64(text, INT64_MAX, &s->buyer) < 0) {
        snprintf(err, errlen, "buyer \"%s\": expected a non-negative integer", text);
        return -1;
    }
    s->is_buyer = 1;
    return 0;
}

void rule_sel_format(const struct rule_sel *s, char *out, size_t outlen)
{
    if (s->is_buyer)
        snprintf(out, outlen, "buyer:%" PRIu64, s->buyer);
    else
        snprintf(out, outlen, "buckets:%u-%u", s->first, s->last);
}

int rule_sel_parse(const char *text, struct rule_sel *s, char *err, size_t errlen)
{
    if (strncmp(text, "buyer:", 6) == 0)
        return rule_sel_parse_buyer(text + 6, s, err, errlen);
    if (strncmp(text, "buckets:", 8) == 0)
        return rule_sel_parse_buckets(text + 8, s, err, errlen);
    snprintf(err, errlen, "selection \"%s\": expected buckets:A-B or buyer:N", text);
    return -1;
}

uint64_t rule_sel_size(const struct rule_sel *s)
{
    return s->is_buyer ? 1 : (uint64_t)s->last - s->first + 1;
}

static int rule_override_of(const struct rules *r, uint64_t buyer)
{
    for (size_t i = 0; i < r->noverrides; i++)
        if (r->overrides[i].buyer_id == buyer)
            return r->overrides[i].unit;
    return RULES_NO_UNIT;
}

int rule_edit_source(const struct rules *base, const struct rule_sel *s,
                     char *err, size_t errlen)
{
    if (s->is_buyer) {
        for (size_t i = 0; i < base->nbuyer_bans; i++)
            if (base->buyer_bans[i] == s->buyer) {
                snprintf(err, errlen, "buyer %" PRIu64 " is already under a write ban",
                         s->buyer);
                return -1;
            }
        int u = rule_override_of(base, s->buyer);
        if (u == RULES_NO_UNIT) {
            uint32_t b = rules_bucket_of(base, s->buyer);
            for (size_t i = 0; i < base->nbans; i++)
                if (b >= base->bans[i].first && b <= base->bans[i].last) {
                    snprintf(err, errlen, "buyer %" PRIu64 ": its bucket %u is under a write ban",
                             s->buyer, b);
                    return -1;
                }
        }
        return rules_unit_for_buyer(base, s->buyer);
    }
    if (s->last >= base->buckets) {
        snprintf(err, errlen, "buckets %u-%u: the rules have buckets 0-%u", s->first, s->last,
                 base->buckets - 1);
        return -1;
    }
    for (size_t i = 0; i < base->nbans; i++)
        if (s->first <= base->bans[i].last && base->bans[i].first <= s->last) {
            snprintf(err, errlen, "buckets %u-%u overlap the write ban on %u-%u", s->first,
                     s->last, base->bans[i].first, base->bans[i].last);
            return -1;
        }
    int unit = base->bucket_slot[s->first] & RULES_SLOT_UNIT_MASK;
    for (size_t i = 0; i < base->nranges; i++) {
        const struct rules_range *g = &base->ranges[i];
        if (g->first <= s->last && s->first <= g->last && g->unit != unit) {
            snprintf(err, errlen, "buckets %u-%u span units %s and %s: cut over one unit's "
                     "buckets at a time", s->first, s->last, rules_unit_name(base, unit),
                     rules_unit_name(base, g->unit));
            return -1;
        }
    }
    return unit;
}

/* One range line, skipping empty ones. */
static void rule_put_range(struct strbuf *b, uint64_t first, uint64_t last, const char *unit,
                           int *n)
{
    if (first > last)
        return;
    strbuf_printf(b, "%s  { first = %" PRIu64 "; last = %" PRIu64 "; unit = \"%s\"; }",
                  *n ? ",\n" : "", first, last, unit);
    (*n)++;
}

/* Routing ranges of base, with the selection's buckets sent to to_unit (-1: unchanged). */
static void rule_put_ranges(struct strbuf *b, const struct rules *base,
                            const struct rule_sel *s, int to_unit)
{
    int n = 0;

    strbuf_puts(b, "ranges = (\n");
    for (size_t i = 0; i < base->nranges; i++) {
        const struct rules_range *g = &base->ranges[i];
        const char *unit = rules_unit_name(base, g->unit);
        if (to_unit < 0 || s->is_buyer || g->last < s->first || s->last < g->first) {
            rule_put_range(b, g->first, g->last, unit, &n);
            continue;
        }
        if (s->first > g->first)
            rule_put_range(b, g->first, (uint64_t)s->first - 1, unit, &n);
        rule_put_range(b, s->first > g->first ? s->first : g->first,
                       s->last < g->last ? s->last : g->last, rules_unit_name(base, to_unit), &n);
        rule_put_range(b, (uint64_t)s->last + 1, g->last, unit, &n);
    }
    strbuf_puts(b, "\n);\n");
}

static void rule_put_overrides(struct strbuf *b, const struct rules *base,
                               const struct rule_sel *s, int to_unit)
{
    int n = 0, seen = 0;

    strbuf_puts(b, "overrides = (\n");
    for (size_t i = 0; i < base->noverrides; i++) {
        const struct rules_override *o = &base->overrides[i];
        int unit = o->unit;
        if (to_unit >= 0 && s->is_buyer && o->buyer_id == s->buyer) {
            unit = to_unit;
            seen = 1;
        }
        strbuf_printf(b, "%s  { buyer = %" PRIu64 "L; unit = \"%s\"; }", n++ ? ",\n" : "",
                      o->buyer_id, rules_unit_name(base, unit));
    }
    if (to_unit >= 0 && s->is_buyer && !seen)
        strbuf_printf(b, "%s  { buyer = %" PRIu64 "L; unit = \"%s\"; }", n++ ? ",\n" : "",
                      s->buyer, rules_unit_name(base, to_unit));
    strbuf_puts(b, "\n);\n");
}

static void rule_put_bans(struct strbuf *b, const struct rules *base, const struct rule_sel *s,
                          int ban)
{
    int n = 0;

    strbuf_puts(b, "bans = (\n");
    for (size_t i = 0; i < base->nbans; i++)
        strbuf_printf(b, "%s  { first = %u; last = %u; }", n++ ? ",\n" : "",
                      base->bans[i].first, base->bans[i].last);
    for (size_t i = 0; i < base->nbuyer_bans; i++)
        strbuf_printf(b, "%s  { buyer = %" PRIu64 "L; }", n++ ? ",\n" : "",
                      base->buyer_bans[i]);
    if (ban && s->is_buyer)
        strbuf_printf(b, "%s  { buyer = %" PRIu64 "L; }", n++ ? ",\n" : "", s->buyer);
    else if (ban)
        strbuf_printf(b, "%s  { first = %u; last = %u; }", n++ ? ",\n" : "", s->first, s->last);
    strbuf_puts(b, "\n);\n");
}

/* Parse text, then re-parse its canonical print so source is canonical. */
static struct rules *rule_parse_canonical(const struct rules *base, const char *text,
                                          size_t len, char *err, size_t errlen)
{
    const char *names[RULES_UNITS_MAX];
    for (uint32_t i = 0; i < base->nunits; i++)
        names[i] = base->unit_names[i];
    struct rules *r = rules_parse(text, len, names, base->nunits, err, errlen);
    if (r == NULL)
        return NULL;
    size_t clen;
    char *canon = rules_print(r, &clen);
    rules_destroy(r);
    if (canon == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    r = rules_parse(canon, clen, names, base->nunits, err, errlen);
    free(canon);
    return r;
}

static struct rules *rule_edit_build(const struct rules *base, const struct rule_sel *s,
                                     uint64_t version, int ban, int to_unit,
                                     char *err, size_t errlen)
{
    struct strbuf b;
    struct rules *r = NULL;

    strbuf_init(&b);
    strbuf_printf(&b, "version = %" PRIu64 "L;\nbuckets = %u;\n", version, base->buckets);
    rule_put_ranges(&b, base, s, to_unit);
    rule_put_overrides(&b, base, s, to_unit);
    rule_put_bans(&b, base, s, ban);
    if (b.failed)
        snprintf(err, errlen, "out of memory");
    else
        r = rule_parse_canonical(base, b.buf, b.len, err, errlen);
    strbuf_deinit(&b);
    return r;
}

struct rules *rule_edit_ban(const struct rules *base, const struct rule_sel *s,
                            char *err, size_t errlen)
{
    if (rule_edit_source(base, s, err, errlen) < 0)
        return NULL;
    return rule_edit_build(base, s, base->version + 1, 1, -1, err, errlen);
}

struct rules *rule_edit_switch(const struct rules *base, const struct rule_sel *s,
                               int to_unit, char *err, size_t errlen)
{
    int from = rule_edit_source(base, s, err, errlen);
    if (from < 0)
        return NULL;
    if (to_unit < 0 || (uint32_t)to_unit >= base->nunits) {
        snprintf(err, errlen, "unknown target unit");
        return NULL;
    }
    if (from == to_unit) {
        snprintf(err, errlen, "the selection is already in unit %s",
                 rules_unit_name(base, to_unit));
        return NULL;
    }
    return rule_edit_build(base, s, base->version + 2, 0, to_unit, err, errlen);
}

struct rules *rule_edit_restore(const struct rules *base, char *err, size_t errlen)
{
    return rule_edit_with_version(base, base->version + 2, err, errlen);
}

struct rules *rule_edit_with_version(const struct rules *base, uint64_t version,
                                     char *err, size_t errlen)
{
    struct rule_sel none = { 0 };
    return rule_edit_build(base, &none, version, 0, -1, err, errlen);
}
