/*
 * rules: parse, validate, print and compare rule sets, and build the flat
 * lookup tables of rules.h.
 *
 *   text --libconfig--> entries (with their lines) --validate--> normalized
 *        model (sorted, merged) --build--> bucket_slot[] + override hash
 */
#include "rules.h"

#include <libconfig.h>
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strbuf.h"

/* An entry as read, before validation: keeps its line for error messages. */
struct rules_entry {
    uint64_t a;             /* first bucket, or buyer id */
    uint64_t b;             /* last bucket */
    int      unit;          /* unit index, or RULES_NO_UNIT */
    int      is_buyer;      /* ban entries: a buyer ban */
    int      line;
};

struct rules_parse_ctx {
    const char *const *unit_names;
    size_t             nunits;
    char              *err;
    size_t             errlen;
    int               *line_out;    /* set: the line goes here, not into err */
};

static void rules_fail(struct rules_parse_ctx *c, int line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void rules_fail(struct rules_parse_ctx *c, int line, const char *fmt, ...)
{
    char msg[384];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->line_out != NULL)
        *c->line_out = line;
    if (c->err == NULL || c->errlen == 0)
        return;
    if (line > 0 && c->line_out == NULL)
        snprintf(c->err, c->errlen, "line %d: %s", line, msg);
    else
        snprintf(c->err, c->errlen, "%s", msg);
}

static int rules_setting_line(const config_setting_t *s)
{
    return (int)config_setting_source_line(s);
}

/* An integer member of a group; -1 and an error if absent or not an integer. */
static int rules_get_int(struct rules_parse_ctx *c, const config_setting_t *group,
                         const char *name, int64_t min, int64_t max, uint64_t *out)
{
    const config_setting_t *s = config_setting_get_member(group, name);

    if (s == NULL) {
        rules_fail(c, rules_setting_line(group), "missing '%s'", name);
        return -1;
    }
    int type = config_setting_type(s);
    if (type != CONFIG_TYPE_INT && type != CONFIG_TYPE_INT64) {
        rules_fail(c, rules_setting_line(s), "'%s' must be an integer", name);
        return -1;
    }
    long long v = config_setting_get_int64(s);
    if (v < min || v > max) {
        rules_fail(c, rules_setting_line(s), "'%s' = %lld is out of range [%lld, %lld]",
                   name, v, (long long)min, (long long)max);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

static int rules_get_unit(struct rules_parse_ctx *c, const config_setting_t *group)
{
    const config_setting_t *s = config_setting_get_member(group, "unit");

    if (s == NULL) {
        rules_fail(c, rules_setting_line(group), "missing 'unit'");
        return RULES_NO_UNIT;
    }
    const char *name = config_setting_get_string(s);
    if (name == NULL) {
        rules_fail(c, rules_setting_line(s), "'unit' must be a string");
        return RULES_NO_UNIT;
    }
    for (size_t i = 0; i < c->nunits; i++)
        if (strcmp(c->unit_names[i], name) == 0)
            return (int)i;
    rules_fail(c, rules_setting_line(s), "unknown unit \"%s\"", name);
    return RULES_NO_UNIT;
}

/* Every member of group must be one of the NULL-terminated names. */
static int rules_check_members(struct rules_parse_ctx *c, const config_setting_t *group,
                               const char *const *names)
{
    for (int i = 0; i < config_setting_length(group); i++) {
        const config_setting_t *m = config_setting_get_elem(group, (unsigned)i);
        const char *n = config_setting_name(m);
        size_t k = 0;
        while (names[k] != NULL && strcmp(names[k], n) != 0)
            k++;
        if (names[k] == NULL) {
            rules_fail(c, rules_setting_line(m), "unknown key '%s'", n);
            return -1;
        }
    }
    return 0;
}

/* The list called name (a list of groups) into *list; absent: NULL, *n = 0. */
static int rules_get_list(struct rules_parse_ctx *c, const config_setting_t *root,
                          const char *name, int required,
                          const config_setting_t **list, size_t *n)
{
    const config_setting_t *l = config_setting_get_member(root, name);

    *list = NULL;
    *n = 0;
    if (l == NULL) {
        if (required)
            rules_fail(c, 0, "missing '%s'", name);
        return required ? -1 : 0;
    }
    if (config_setting_type(l) != CONFIG_TYPE_LIST) {
        rules_fail(c, rules_setting_line(l), "'%s' must be a list: ( {...}, ... )", name);
        return -1;
    }
    for (int i = 0; i < config_setting_length(l); i++) {
        const config_setting_t *g = config_setting_get_elem(l, (unsigned)i);
        if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
            rules_fail(c, rules_setting_line(g), "each entry of '%s' must be a group { ... }", name);
            return -1;
        }
    }
    *list = l;
    *n = (size_t)config_setting_length(l);
    return 0;
}

static int rules_entry_cmp(const void *x, const void *y)
{
    const struct rules_entry *a = x, *b = y;

    if (a->is_buyer != b->is_buyer)
        return a->is_buyer - b->is_buyer;
    if (a->a != b->a)
        return a->a < b->a ? -1 : 1;
    return a->line - b->line;
}

/* Read a list of groups into entries: kind 'r' range, 'o' override, 'b' ban. */
static struct rules_entry *rules_read_entries(struct rules_parse_ctx *c,
                                              const config_setting_t *list, size_t n,
                                              uint32_t buckets, char kind)
{
    static const char *const range_keys[] = { "first", "last", "unit", NULL };
    static const char *const override_keys[] = { "buyer", "unit", NULL };
    static const char *const ban_keys[] = { "first", "last", "buyer", NULL };
    struct rules_entry *e = calloc(n ? n : 1, sizeof(*e));

    if (e == NULL) {
        rules_fail(c, 0, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        const config_setting_t *g = config_setting_get_elem(list, (unsigned)i);
        const char *const *keys = kind == 'r' ? range_keys : kind == 'o' ? override_keys : ban_keys;

        e[i].line = rules_setting_line(g);
        e[i].unit = RULES_NO_UNIT;
        if (rules_check_members(c, g, keys) < 0)
            goto fail;
        e[i].is_buyer = kind == 'o' || config_setting_get_member(g, "buyer") != NULL;
        if (e[i].is_buyer) {
            if (kind == 'b' && (config_setting_get_member(g, "first") != NULL ||
                                config_setting_get_member(g, "last") != NULL)) {
                rules_fail(c, e[i].line, "a ban names either a buyer or a bucket range, not both");
                goto fail;
            }
            if (rules_get_int(c, g, "buyer", 0, INT64_MAX, &e[i].a) < 0)
                goto fail;
        } else {
            if (rules_get_int(c, g, "first", 0, INT64_MAX, &e[i].a) < 0 ||
                rules_get_int(c, g, "last", 0, INT64_MAX, &e[i].b) < 0)
                goto fail;
            if (e[i].a > e[i].b) {
                rules_fail(c, e[i].line, "first %llu is after last %llu",
                           (unsigned long long)e[i].a, (unsigned long long)e[i].b);
                goto fail;
            }
            if (e[i].b >= buckets) {
                rules_fail(c, e[i].line, "bucket %llu is out of range [0, %u)",
                           (unsigned long long)e[i].b, buckets);
                goto fail;
            }
        }
        if (kind != 'b' && (e[i].unit = rules_get_unit(c, g)) == RULES_NO_UNIT)
            goto fail;
    }
    qsort(e, n, sizeof(*e), rules_entry_cmp);
    return e;
fail:
    free(e);
    return NULL;
}

/* Ranges must cover [0, buckets) exactly once. list_line: the list's line. */
static int rules_check_coverage(struct rules_parse_ctx *c, const struct rules_entry *e,
                                size_t n, uint32_t buckets, int list_line)
{
    uint64_t next = 0;

    for (size_t i = 0; i < n; i++) {
        if (e[i].a > next) {
            rules_fail(c, e[i].line, "gap: buckets %llu-%llu belong to no range",
                       (unsigned long long)next, (unsigned long long)e[i].a - 1);
            return -1;
        }
        if (e[i].a < next) {
            rules_fail(c, e[i].line, "overlap: range %llu-%llu overlaps the range on line %d",
                       (unsigned long long)e[i].a, (unsigned long long)e[i].b, e[i - 1].line);
            return -1;
        }
        next = e[i].b + 1;
    }
    if (next != buckets) {
        rules_fail(c, n ? e[n - 1].line : list_line, "gap: buckets %llu-%u belong to no range",
                   (unsigned long long)next, buckets - 1);
        return -1;
    }
    return 0;
}

/* Sorted bucket bans must not overlap; sorted buyer ids must not repeat. */
static int rules_check_disjoint(struct rules_parse_ctx *c, const struct rules_entry *e,
                                size_t n, const char *what)
{
    for (size_t i = 1; i < n; i++) {
        if (e[i].is_buyer != e[i - 1].is_buyer)
            continue;
        if (e[i].is_buyer && e[i].a == e[i - 1].a) {
            rules_fail(c, e[i].line, "duplicate %s for buyer %llu (also on line %d)", what,
                       (unsigned long long)e[i].a, e[i - 1].line);
            return -1;
        }
        if (!e[i].is_buyer && e[i].a <= e[i - 1].b) {
            rules_fail(c, e[i].line, "%s %llu-%llu overlaps the one on line %d", what,
                       (unsigned long long)e[i].a, (unsigned long long)e[i].b, e[i - 1].line);
            return -1;
        }
    }
    return 0;
}

static size_t rules_pow2_at_least(size_t n)
{
    size_t p = 4;
    while (p < n)
        p <<= 1;
    return p;
}

/* Insert or update buyer in the override hash. */
static void rules_hash_put(struct rules *r, uint64_t buyer, uint8_t unit_bits, uint8_t flag_bits)
{
    uint32_t i = (uint32_t)((buyer * 0x9E3779B97F4A7C15ull) >> r->ovr_shift);

    while (r->ovr_slots[i] != RULES_SLOT_EMPTY && r->ovr_keys[i] != buyer)
        i = (i + 1) & r->ovr_mask;
    if (r->ovr_slots[i] == RULES_SLOT_EMPTY)
        r->ovr_slots[i] = RULES_SLOT_NO_UNIT;
    r->ovr_keys[i] = buyer;
    if (unit_bits != RULES_SLOT_NO_UNIT)
        r->ovr_slots[i] = (uint8_t)((r->ovr_slots[i] & ~RULES_SLOT_UNIT_MASK) | unit_bits);
    r->ovr_slots[i] |= flag_bits;
}

/* Build bucket_slot[] and the override hash from the normalized model. */
static int rules_build_tables(struct rules *r)
{
    r->bucket_magic = ~(unsigned __int128)0 / r->buckets + 1;
    r->bucket_slot = malloc(r->buckets);
    if (r->bucket_slot == NULL)
        return -1;
    for (size_t i = 0; i < r->nranges; i++)
        memset(r->bucket_slot + r->ranges[i].first, r->ranges[i].unit,
               r->ranges[i].last - r->ranges[i].first + 1);
    for (size_t i = 0; i < r->nbans; i++)
        for (uint32_t b = r->bans[i].first; b <= r->bans[i].last; b++)
            r->bucket_slot[b] |= RULES_SLOT_BANNED;

    size_t keys = r->noverrides + r->nbuyer_bans;
    if (keys == 0)
        return 0;
    /* at most 1/8 full: most lookups are of buyers without an override and
     * end at their first, empty slot, a branch the CPU predicts */
    size_t size = rules_pow2_at_least(keys * 8);
    r->ovr_keys = calloc(size, sizeof(*r->ovr_keys));
    r->ovr_slots = malloc(size);
    if (r->ovr_keys == NULL || r->ovr_slots == NULL)
        return -1;
    memset(r->ovr_slots, RULES_SLOT_EMPTY, size);
    r->ovr_mask = (uint32_t)(size - 1);
    r->ovr_shift = 64u - (uint32_t)__builtin_ctzll(size);
    for (size_t i = 0; i < r->noverrides; i++)
        rules_hash_put(r, r->overrides[i].buyer_id, r->overrides[i].unit, 0);
    for (size_t i = 0; i < r->nbuyer_bans; i++)
        rules_hash_put(r, r->buyer_bans[i], RULES_SLOT_NO_UNIT, RULES_SLOT_BANNED);
    return 0;
}

/* Copy sorted entries into the model, merging adjacent same-unit ranges. */
static int rules_take_ranges(struct rules_range **out, size_t *nout,
                             const struct rules_entry *e, size_t n, int merge_units)
{
    *out = calloc(n ? n : 1, sizeof(**out));
    if (*out == NULL)
        return -1;
    *nout = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].is_buyer)
            continue;
        struct rules_range *prev = *nout ? &(*out)[*nout - 1] : NULL;
        uint8_t unit = merge_units ? (uint8_t)e[i].unit : 0;
        if (prev != NULL && prev->last + 1 == e[i].a && prev->unit == unit) {
            prev->last = (uint32_t)e[i].b;
            continue;
        }
        (*out)[(*nout)++] = (struct rules_range){ (uint32_t)e[i].a, (uint32_t)e[i].b, unit };
    }
    return 0;
}

static int rules_take_buyers(struct rules *r, const struct rules_entry *ovr, size_t novr,
                             const struct rules_entry *ban, size_t nban)
{
    r->overrides = calloc(novr ? novr : 1, sizeof(*r->overrides));
    r->buyer_bans = calloc(nban ? nban : 1, sizeof(*r->buyer_bans));
    if (r->overrides == NULL || r->buyer_bans == NULL)
        return -1;
    for (size_t i = 0; i < novr; i++)
        r->overrides[r->noverrides++] = (struct rules_override){ ovr[i].a, (uint8_t)ovr[i].unit };
    for (size_t i = 0; i < nban; i++)
        if (ban[i].is_buyer)
            r->buyer_bans[r->nbuyer_bans++] = ban[i].a;
    return 0;
}

/* Skip a string literal, a comment or a name starting at p; NULL if none. */
static const char *rules_skip_token(const char *p, const char *end, int *line)
{
    if (*p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end)
                p++;
            if (*p == '\n')
                (*line)++;
        }
        return p < end ? p + 1 : end;
    }
    if (*p == '#' || (*p == '/' && p + 1 < end && p[1] == '/')) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        return nl != NULL ? nl : end;  /* the newline is counted by the caller */
    }
    if (*p == '/' && p + 1 < end && p[1] == '*') {
        for (p += 2; p < end && !(*p == '*' && p + 1 < end && p[1] == '/'); p++)
            if (*p == '\n')
                (*line)++;
        return p < end ? p + 2 : end;
    }
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '*') {
        while (p < end && (isalnum((unsigned char)*p) || *p == '-' || *p == '_' || *p == '*'))
            p++;
        return p;
    }
    return NULL;
}

/*
 * Check one integer literal at p (sign included) against the type libconfig
 * 1.5 gives it: libconfig converts without any overflow check, so
 * "buyer = 4294967338;" would silently become buyer 42 and
 * "9223372036854775808L" would become INT64_MAX. *end_out gets the end of the
 * token (floats are skipped: their type is checked later).
 */
static int rules_check_integer(struct rules_parse_ctx *c, const char *p, const char *end,
                               int line, const char **end_out)
{
    const char *start = p;
    int neg = 0, hex = 0, overflow = 0;
    uint64_t v = 0;

    if (*p == '-' || *p == '+')
        neg = *p++ == '-';
    if (p + 1 < end && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        hex = 1;
        for (p += 2; p < end && isxdigit((unsigned char)*p); p++) {
            overflow |= v >> 60 != 0;
            v = v << 4 | (uint64_t)(isdigit((unsigned char)*p) ? *p - '0'
                                                                : (*p | 0x20) - 'a' + 10);
        }
    } else {
        for (; p < end && isdigit((unsigned char)*p); p++) {
            overflow |= v > (UINT64_MAX - 9) / 10;
            v = v * 10 + (uint64_t)(*p - '0');
        }
        if (p < end && (*p == '.' || *p == 'e' || *p == 'E')) {
            while (p < end && (isdigit((unsigned char)*p) || *p == '.' || *p == 'e' ||
                               *p == 'E' || ((*p == '-' || *p == '+') &&
                                             (p[-1] == 'e' || p[-1] == 'E'))))
                p++;
            *end_out = p;
            return 0;
        }
    }
    int wide = p < end && *p == 'L';
    while (p < end && *p == 'L')
        p++;
    *end_out = p;
    uint64_t max = wide ? (uint64_t)INT64_MAX : (uint64_t)INT32_MAX;
    if (neg && !hex)
        max++;  /* INT32_MIN, INT64_MIN */
    if (overflow || v > max) {
        rules_fail(c, line, "integer %.*s does not fit %s%s", (int)(p - start), start,
                   wide ? "64 bits" : "32 bits",
                   wide ? "" : ": write large values with an L suffix (e.g. 4294967296L)");
        return -1;
    }
    return 0;
}

#define RULES_NEST_MAX 64   /* brackets open at once; a rule document needs 2 */

/*
 * One pass over the tokens before libconfig sees the text:
 *  - every integer literal fits its type (see rules_check_integer);
 *  - a string stands only where libconfig's grammar takes one: after '=' or
 *    ':', after another string (they concatenate), or as an element of a
 *    list ( ) or array [ ]. libconfig 1.5 leaks the buffer of a string token
 *    that is the lookahead of a syntax error, so such a document must not
 *    reach it.
 * prev is the previous token: its punctuation character, 's' for a string,
 * 'v' for a name or number.
 */
static int rules_check_tokens(struct rules_parse_ctx *c, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    char nest[RULES_NEST_MAX], prev = ';';
    size_t depth = 0;
    int line = 1;

    while (p < end) {
        unsigned char ch = (unsigned char)*p;
        if (ch == '\n' || isspace(ch)) {
            line += ch == '\n';
            p++;
        } else if (ch == '#' || (ch == '/' && p + 1 < end && (p[1] == '/' || p[1] == '*'))) {
            p = rules_skip_token(p, end, &line);
        } else if (ch == '"') {
            int in_list = depth > 0 && nest[depth - 1] != '{';
            if (!(prev == '=' || prev == ':' || prev == 's' ||
                  (in_list && (prev == '(' || prev == '[' || prev == ',')))) {
                rules_fail(c, line, "syntax: unexpected string");
                return -1;
            }
            p = rules_skip_token(p, end, &line);
            prev = 's';
        } else if (ch == '.' && p + 1 < end && isdigit((unsigned char)p[1])) {
            for (p++; p < end && (isdigit((unsigned char)*p) || *p == 'e' || *p == 'E' ||
                                  ((*p == '-' || *p == '+') && (p[-1] | 0x20) == 'e'));)
                p++;  /* ".5e3": a float, its type is checked later */
            prev = 'v';
        } else if (isdigit(ch) ||
                   ((ch == '-' || ch == '+') && p + 1 < end && isdigit((unsigned char)p[1]))) {
            if (rules_check_integer(c, p, end, line, &p) < 0)
                return -1;
            prev = 'v';
        } else if (isalpha(ch) || ch == '*') {
            p = rules_skip_token(p, end, &line);   /* a name, true, false */
            prev = 'v';
        } else {
            if (ch == '(' || ch == '[' || ch == '{') {
                if (depth == RULES_NEST_MAX) {
                    rules_fail(c, line, "nested deeper than %d", RULES_NEST_MAX);
                    return -1;
                }
                nest[depth++] = (char)ch;
            } else if ((ch == ')' || ch == ']' || ch == '}') && depth > 0) {
                depth--;
            }
            prev = (char)ch;
            p++;
        }
    }
    return 0;
}

/* Reject what libconfig would accept but a rule document must not contain. */
static int rules_check_text(struct rules_parse_ctx *c, const char *text, size_t len)
{
    if (len == 0) {
        rules_fail(c, 0, "empty rule document");
        return -1;
    }
    if (len > RULES_BODY_MAX) {
        rules_fail(c, 0, "rule document of %zu bytes exceeds %u", len, RULES_BODY_MAX);
        return -1;
    }
    if (memchr(text, '\0', len) != NULL) {
        rules_fail(c, 0, "rule document contains a NUL byte");
        return -1;
    }
    /* @include would let a pushed document read local files */
    if (memmem(text, len, "@include", 8) != NULL) {
        rules_fail(c, 0, "@include is not allowed in rule documents");
        return -1;
    }
    return rules_check_tokens(c, text, len);
}

int rules_check_config_text(const char *text, size_t len, int *line, char *err, size_t errlen)
{
    struct rules_parse_ctx c = { NULL, 0, err, errlen, line };

    return rules_check_tokens(&c, text, len);
}

static int rules_read_header(struct rules_parse_ctx *c, const config_setting_t *root,
                             struct rules *r)
{
    static const char *const top_keys[] = { "version", "buckets", "ranges", "overrides",
                                            "bans", NULL };
    uint64_t v;

    if (rules_check_members(c, root, top_keys) < 0)
        return -1;
    if (config_setting_get_member(root, "version") == NULL) {
        rules_fail(c, 0, "missing 'version'");
        return -1;
    }
    if (rules_get_int(c, root, "version", 0, INT64_MAX, &r->version) < 0)
        return -1;
    if (r->version == 0) {
        rules_fail(c, rules_setting_line(config_setting_get_member(root, "version")),
                   "version must be at least 1");
        return -1;
    }
    r->buckets = RULES_BUCKETS_DEFAULT;
    if (config_setting_get_member(root, "buckets") != NULL) {
        if (rules_get_int(c, root, "buckets", 1, RULES_BUCKETS_MAX, &v) < 0)
            return -1;
        r->buckets = (uint32_t)v;
    }
    return 0;
}

static struct rules *rules_new(const char *const *unit_names, size_t nunits,
                               struct rules_parse_ctx *c)
{
    if (nunits == 0 || nunits > RULES_UNITS_MAX) {
        rules_fail(c, 0, "%zu units: a topology has 1 to %d units", nunits, RULES_UNITS_MAX);
        return NULL;
    }
    struct rules *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rules_fail(c, 0, "out of memory");
        return NULL;
    }
    r->nunits = (uint32_t)nunits;
    for (size_t i = 0; i < nunits; i++) {
        /* printed between quotes, so it must come back unchanged */
        size_t n = strlen(unit_names[i]);
        if (n == 0 || n >= RULES_UNIT_NAME_MAX ||
            strpbrk(unit_names[i], "\"\\\n\r\t") != NULL) {
            rules_fail(c, 0, "unit name \"%s\": must be 1 to %d characters without quotes, "
                       "backslashes or control characters", unit_names[i],
                       RULES_UNIT_NAME_MAX - 1);
            free(r);
            return NULL;
        }
        memcpy(r->unit_names[i], unit_names[i], n + 1);
    }
    return r;
}

struct rules *rules_parse(const char *text, size_t len,
                          const char *const *unit_names, size_t nunits,
                          char *err, size_t errlen)
{
    struct rules_parse_ctx c = { unit_names, nunits, err, errlen, NULL };
    struct rules_entry *ranges = NULL, *ovr = NULL, *bans = NULL;
    size_t nranges, novr, nbans;
    config_t cfg;
    struct rules *r;

    if (rules_check_text(&c, text, len) < 0)
        return NULL;
    if ((r = rules_new(unit_names, nunits, &c)) == NULL)
        return NULL;
    r->source = malloc(len + 1);
    if (r->source == NULL)
        goto fail_nocfg;
    memcpy(r->source, text, len);
    r->source[len] = '\0';
    r->source_len = len;

    config_init(&cfg);
    if (config_read_string(&cfg, r->source) != CONFIG_TRUE) {
        rules_fail(&c, config_error_line(&cfg), "syntax: %s", config_error_text(&cfg));
        goto fail;
    }
    const config_setting_t *root = config_root_setting(&cfg);
    if (rules_read_header(&c, root, r) < 0)
        goto fail;

    const config_setting_t *lr, *lo, *lb;
    if (rules_get_list(&c, root, "ranges", 1, &lr, &nranges) < 0 ||
        (ranges = rules_read_entries(&c, lr, nranges, r->buckets, 'r')) == NULL ||
        rules_check_coverage(&c, ranges, nranges, r->buckets, rules_setting_line(lr)) < 0)
        goto fail;
    if (rules_get_list(&c, root, "overrides", 0, &lo, &novr) < 0 ||
        (ovr = rules_read_entries(&c, lo, novr, r->buckets, 'o')) == NULL ||
        rules_check_disjoint(&c, ovr, novr, "override") < 0)
        goto fail;
    if (rules_get_list(&c, root, "bans", 0, &lb, &nbans) < 0 ||
        (bans = rules_read_entries(&c, lb, nbans, r->buckets, 'b')) == NULL ||
        rules_check_disjoint(&c, bans, nbans, "ban") < 0)
        goto fail;

    if (rules_take_ranges(&r->ranges, &r->nranges, ranges, nranges, 1) < 0 ||
        rules_take_ranges(&r->bans, &r->nbans, bans, nbans, 0) < 0 ||
        rules_take_buyers(r, ovr, novr, bans, nbans) < 0 ||
        rules_build_tables(r) < 0) {
        rules_fail(&c, 0, "out of memory");
        goto fail;
    }
    free(ranges);
    free(ovr);
    free(bans);
    config_destroy(&cfg);
    return r;

fail:
    free(ranges);
    free(ovr);
    free(bans);
    config_destroy(&cfg);
fail_nocfg:
    if (r->source == NULL)
        rules_fail(&c, 0, "out of memory");
    rules_destroy(r);
    return NULL;
}

char *rules_print(const struct rules *r, size_t *len)
{
    struct strbuf b;

    strbuf_init(&b);
    strbuf_printf(&b, "version = %lluL;\nbuckets = %u;\nranges = (\n",
                  (unsigned long long)r->version, r->buckets);
    for (size_t i = 0; i < r->nranges; i++)
        strbuf_printf(&b, "  { first = %u; last = %u; unit = \"%s\"; }%s\n",
                      r->ranges[i].first, r->ranges[i].last,
                      rules_unit_name(r, r->ranges[i].unit), i + 1 < r->nranges ? "," : "");
    strbuf_printf(&b, ");\noverrides = (\n");
    for (size_t i = 0; i < r->noverrides; i++)
        strbuf_printf(&b, "  { buyer = %lluL; unit = \"%s\"; }%s\n",
                      (unsigned long long)r->overrides[i].buyer_id,
                      rules_unit_name(r, r->overrides[i].unit),
                      i + 1 < r->noverrides ? "," : "");
    strbuf_printf(&b, ");\nbans = (\n");
    size_t nb = r->nbans + r->nbuyer_bans;
    for (size_t i = 0; i < r->nbans; i++)
        strbuf_printf(&b, "  { first = %u; last = %u; }%s\n", r->bans[i].first,
                      r->bans[i].last, i + 1 < nb ? "," : "");
    for (size_t i = 0; i < r->nbuyer_bans; i++)
        strbuf_printf(&b, "  { buyer = %lluL; }%s\n", (unsigned long long)r->buyer_bans[i],
                      r->nbans + i + 1 < nb ? "," : "");
    strbuf_printf(&b, ");\n");
    if (b.failed) {
        strbuf_deinit(&b);
        return NULL;
    }
    if (len != NULL)
        *len = b.len;
    return strbuf_steal(&b);
}

static bool rules_ranges_equal(const struct rules *a, const struct rules_range *x,
                               const struct rules *b, const struct rules_range *y,
                               size_t n, int units)
{
    for (size_t i = 0; i < n; i++) {
        if (x[i].first != y[i].first || x[i].last != y[i].last)
            return false;
        if (units && strcmp(rules_unit_name(a, x[i].unit), rules_unit_name(b, y[i].unit)) != 0)
            return false;
    }
    return true;
}

bool rules_equal(const struct rules *a, const struct rules *b)
{
    if (a->version != b->version || a->buckets != b->buckets ||
        a->nranges != b->nranges || a->noverrides != b->noverrides ||
        a->nbans != b->nbans || a->nbuyer_bans != b->nbuyer_bans)
        return false;
    if (!rules_ranges_equal(a, a->ranges, b, b->ranges, a->nranges, 1) ||
        !rules_ranges_equal(a, a->bans, b, b->bans, a->nbans, 0))
        return false;
    for (size_t i = 0; i < a->noverrides; i++)
        if (a->overrides[i].buyer_id != b->overrides[i].buyer_id ||
            strcmp(rules_unit_name(a, a->overrides[i].unit),
                   rules_unit_name(b, b->overrides[i].unit)) != 0)
            return false;
    return a->nbuyer_bans == 0 ||
           memcmp(a->buyer_bans, b->buyer_bans, a->nbuyer_bans * sizeof(uint64_t)) == 0;
}

int rules_unit_index(const struct rules *r, const char *name)
{
    for (uint32_t i = 0; i < r->nunits; i++)
        if (strcmp(r->unit_names[i], name) == 0)
            return (int)i;
    return RULES_NO_UNIT;
}

void rules_destroy(struct rules *r)
{
    if (r == NULL)
        return;
    free(r->bucket_slot);
    free(r->ovr_keys);
    free(r->ovr_slots);
    free(r->ranges);
    free(r->overrides);
    free(r->bans);
    free(r->buyer_bans);
    free(r->source);
    free(r);
}
