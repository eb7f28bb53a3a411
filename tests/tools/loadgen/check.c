/*
 * loadgen check: the acknowledged orders against every database.
 *
 *     acks files --> sorted (order id, buyer)
 *     databases  --> wait until each has applied every other one's own GTID
 *                    domain (MASTER_GTID_WAIT), then load every order row
 *     findings   --> lost (acked, missing), duplicate (id twice), mismatched
 *                    (row's buyer is not the ack's), divergent (databases
 *                    differ), misplaced (a buyer's rows, by created, go back
 *                    to a unit they left, move too often, or do not match
 *                    the homes of --rules-before / --rules-after)
 *
 *   Exit status: 0 all findings zero, 1 some finding, 2 could not check.
 *
 * A test tool: errors are reported on stderr here, where they happen.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "router/rules.h"
#include "router/topology.h"
#include "tests/tools/loadgen/acks.h"
#include "tests/tools/loadgen/check.h"
#include "tests/tools/loadgen/common.h"

#define LG_EXAMPLES       5
#define LG_EXAMPLE_LEN    200

/* How often one kind of fault was found, with the first few as examples. */
struct lg_finding {
    uint64_t count;
    char     example[LG_EXAMPLES][LG_EXAMPLE_LEN];
};

/* One check, on the stack of lg_check_main, which releases it. */
struct lg_check {
    struct lg_check_config *cfg;    /* the caller's; its databases are used here */
    struct lg_acks    acks;         /* owned; sorted by order id, unique */
    struct rules     *before, *after;   /* owned; NULL without --rules-before/after */
    struct lg_finding lost, duplicate, mismatched, divergent, misplaced;
};

static void lg_finding_add(struct lg_finding *f, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void lg_finding_add(struct lg_finding *f, const char *fmt, ...)
{
    va_list ap;

    if (f->count < LG_EXAMPLES) {
        va_start(ap, fmt);
        vsnprintf(f->example[f->count], LG_EXAMPLE_LEN, fmt, ap);
        va_end(ap);
    }
    f->count++;
}

/* ---- the acknowledged orders ---- */

static int lg_compare_ack(const void *a, const void *b)
{
    const struct lg_ack *x = a, *y = b;

    if (x->order_id != y->order_id)
        return (x->order_id > y->order_id) - (x->order_id < y->order_id);
    return (x->buyer > y->buyer) - (x->buyer < y->buyer);
}

/* Sorts, drops exact repeats; one id acked for two buyers is a mismatch. */
static void lg_check_normalize_acks(struct lg_check *c)
{
    struct lg_ack *a = c->acks.item;
    size_t out = 0;

    if (a != NULL)      /* no acks at all: qsort must not get NULL, even for 0 */
        qsort(a, c->acks.n, sizeof(*a), lg_compare_ack);
    for (size_t i = 0; i < c->acks.n; i++) {
        if (out > 0 && a[out - 1].order_id == a[i].order_id) {
            if (a[out - 1].buyer != a[i].buyer)
                lg_finding_add(&c->mismatched, "order %" PRId64 " acknowledged for buyers %"
                               PRId64 " and %" PRId64, a[i].order_id, a[out - 1].buyer,
                               a[i].buyer);
            continue;
        }
        a[out++] = a[i];
    }
    c->acks.n = out;
}

/* ---- the findings ---- */

/* Lost and mismatched acknowledged orders, duplicate ids, on one database. */
static void lg_check_acks_on(struct lg_check *c, const struct lg_db *db)
{
    for (size_t i = 0; i < c->acks.n; i++) {
        const struct lg_ack *a = &c->acks.item[i];
        const struct lg_row *r = lg_db_find_row(db, a->order_id);
        if (r == NULL)
            lg_finding_add(&c->lost, "order %" PRId64 " (buyer %" PRId64 ") missing on %s",
                           a->order_id, a->buyer, db->name);
        else if (r->buyer != a->buyer)
            lg_finding_add(&c->mismatched, "order %" PRId64 " acknowledged for buyer %" PRId64
                           ", row on %s has buyer %" PRId64, a->order_id, a->buyer, db->name,
                           r->buyer);
    }
    for (size_t i = 1; i < db->nrows; i++)
        if (db->rows[i].id == db->rows[i - 1].id)
            lg_finding_add(&c->duplicate, "order %" PRId64 " stored twice on %s",
                           db->rows[i].id, db->name);
}

static bool lg_rows_same(const struct lg_row *x, const struct lg_row *y)
{
    return x->buyer == y->buyer && strcmp(x->unit, y->unit) == 0;
}

/* Every row of a is on b with the same buyer and unit, and the other way. */
static void lg_check_divergence(struct lg_check *c, const struct lg_db *a, const struct lg_db *b)
{
    size_t i = 0, j = 0;

    while (i < a->nrows || j < b->nrows) {
        const struct lg_row *x = i < a->nrows ? &a->rows[i] : NULL;
        const struct lg_row *y = j < b->nrows ? &b->rows[j] : NULL;
        if (y == NULL || (x != NULL && x->id < y->id)) {
            lg_finding_add(&c->divergent, "order %" PRId64 " on %s, not on %s", x->id,
                           a->name, b->name);
            i++;
        } else if (x == NULL || y->id < x->id) {
            lg_finding_add(&c->divergent, "order %" PRId64 " on %s, not on %s", y->id,
                           b->name, a->name);
            j++;
        } else {
            if (!lg_rows_same(x, y))
                lg_finding_add(&c->divergent, "order %" PRId64 ": %s has (buyer %" PRId64
                               ", %s), %s has (buyer %" PRId64 ", %s)", x->id, a->name,
                               x->buyer, x->unit, b->name, y->buyer, y->unit);
            i++;
            j++;
        }
    }
}

static int lg_compare_row_ptr(const void *a, const void *b)
{
    const struct lg_row *x = *(const struct lg_row *const *)a;
    const struct lg_row *y = *(const struct lg_row *const *)b;

    if (x->buyer != y->buyer)
        return (x->buyer > y->buyer) - (x->buyer < y->buyer);
    if (x->created_us != y->created_us)
        return (x->created_us > y->created_us) - (x->created_us < y->created_us);
    return (x->id > y->id) - (x->id < y->id);
}

/* "dc-a x3, dc-b x2" of a buyer's rows [0, n) in order */
static void lg_describe_units(const struct lg_row *const *rows, size_t n, char *out,
                              size_t len)
{
    size_t used = 0, run = 1;

    out[0] = '\0';
    for (size_t i = 1; i <= n && used < len; i++) {
        if (i < n && strcmp(rows[i]->unit, rows[i - 1]->unit) == 0) {
            run++;
            continue;
        }
        used += (size_t)snprintf(out + used, len - used, "%s%s x%zu", used ? ", " : "",
                                 rows[i - 1]->unit, run);
        run = 1;
    }
    if (used >= len && len > 4)
        memcpy(out + len - 4, "...", 4);    /* truncated: say so */
}

/* The unit names of buyer's homes before/after, or NULL without rules. */
static const char *lg_home(const struct rules *r, int64_t buyer)
{
    return r != NULL ? rules_unit_name(r, rules_unit_for_buyer(r, (uint64_t)buyer)) : NULL;
}

/*
 * Why one buyer's rows (by created) are misplaced, or NULL if they are not:
 * back to a unit it left (S T S), more unit changes than allowed, or, with
 * rules, a row outside "home before ... home after" in that order.
 */
static const char *lg_buyer_fault(const struct lg_check *c, const struct lg_row *const *rows,
                                  size_t n)
{
    const char *before = lg_home(c->before, rows[0]->buyer);
    const char *after = lg_home(c->after, rows[0]->buyer);
    uint64_t moves = 0;
    bool moved_to_after = false;

    for (size_t i = 0; i < n; i++) {
        bool changed = i > 0 && strcmp(rows[i]->unit, rows[i - 1]->unit) != 0;
        moves += changed;
        for (size_t k = 0; changed && k + 1 < i; k++)
            if (strcmp(rows[k]->unit, rows[i]->unit) == 0)
                return "back in a unit it had left";
        if (before == NULL)
            continue;
        if (strcmp(rows[i]->unit, before) != 0 && strcmp(rows[i]->unit, after) != 0)
            return "written in a unit that was never its home";
        if (strcmp(rows[i]->unit, before) != 0)
            moved_to_after = true;
        else if (moved_to_after)
            return "written in its old home after its new home";
    }
    if (moves > c->cfg->max_moves)
        return "moved more often than allowed";
    return NULL;
}

/* Misplaced buyers on one database (their rows ordered by created). */
static void lg_check_placement_on(struct lg_check *c, const struct lg_db *db)
{
    const struct lg_row **idx = malloc((db->nrows ? db->nrows : 1) * sizeof(*idx));
    char units[LG_EXAMPLE_LEN];

    if (idx == NULL) {
        lg_finding_add(&c->misplaced, "out of memory checking %s", db->name);
        return;
    }
    for (size_t i = 0; i < db->nrows; i++)
        idx[i] = &db->rows[i];
    qsort(idx, db->nrows, sizeof(*idx), lg_compare_row_ptr);
    for (size_t first = 0, end; first < db->nrows; first = end) {
        for (end = first + 1; end < db->nrows && idx[end]->buyer == idx[first]->buyer; end++)
            ;
        const char *why = lg_buyer_fault(c, idx + first, end - first);
        if (why == NULL)
            continue;
        lg_describe_units(idx + first, end - first, units, sizeof(units) / 2);
        lg_finding_add(&c->misplaced, "buyer %" PRId64 " on %s: %s (%s)", idx[first]->buyer,
                       db->name, why, units);
    }
    free(idx);
}

/* ---- rules ---- */

/*
 * The rule set in the file at path, checked against t's units: the caller
 * owns it (rules_destroy). NULL if it cannot be read or parsed (reported).
 */
static struct rules *lg_check_read_rules(const char *path, const struct topology *t)
{
    char err[512];
    struct rules *r = NULL;
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        fprintf(stderr, "loadgen check: cannot open %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char *text = malloc(RULES_BODY_MAX + 1);
    size_t len = text != NULL ? fread(text, 1, RULES_BODY_MAX + 1, f) : 0;
    fclose(f);
    if (text == NULL || len > RULES_BODY_MAX) {
        fprintf(stderr, "loadgen check: %s: too large or out of memory\n", path);
        goto out;
    }
    r = rules_parse(text, len, t->unit_names, t->nunits, err, sizeof(err));
    if (r == NULL)
        fprintf(stderr, "loadgen check: %s: %s\n", path, err);
out:
    free(text);
    return r;
}

/*
 * Loads --rules-before and --rules-after into c (owned by c, also the one
 * loaded when the other failed). 0, also without rules, or -1 (reported).
 */
static int lg_check_load_rules(struct lg_check *c)
{
    const struct lg_check_config *cfg = c->cfg;
    char err[512];

    if (cfg->rules_before == NULL && cfg->rules_after == NULL)
        return 0;
    if (cfg->rules_before == NULL || cfg->rules_after == NULL || cfg->topology == NULL) {
        fprintf(stderr, "loadgen check: --rules-before, --rules-after and --topology go "
                        "together\n");
        return -1;
    }
    struct topology *t = topology_load(cfg->topology, err, sizeof(err));
    if (t == NULL) {
        fprintf(stderr, "loadgen check: %s\n", err);
        return -1;
    }
    c->before = lg_check_read_rules(cfg->rules_before, t);
    c->after = lg_check_read_rules(cfg->rules_after, t);
    topology_destroy(t);
    return c->before != NULL && c->after != NULL ? 0 : -1;
}

/* ---- report ---- */

static void lg_finding_print(const char *what, const struct lg_finding *f)
{
    printf("  %-34s %" PRIu64 "\n", what, f->count);
    for (size_t i = 0; i < f->count && i < LG_EXAMPLES; i++)
        printf("      e.g. %s\n", f->example[i]);
}

static bool lg_check_report(const struct lg_check *c)
{
    bool pass = c->lost.count + c->duplicate.count + c->mismatched.count +
                c->divergent.count + c->misplaced.count == 0;

    lg_finding_print("lost acknowledged writes:", &c->lost);
    lg_finding_print("duplicate rows:", &c->duplicate);
    lg_finding_print("mismatched rows (buyer != ack):", &c->mismatched);
    lg_finding_print("divergent rows across databases:", &c->divergent);
    lg_finding_print("misplaced writes (buyers):", &c->misplaced);
    printf("check: %s\n", pass ? "PASS" : "FAIL");
    printf("loadgen-check acks=%zu lost=%" PRIu64 " duplicates=%" PRIu64 " mismatched=%"
           PRIu64 " divergent=%" PRIu64 " misplaced=%" PRIu64 " result=%s\n", c->acks.n,
           c->lost.count, c->duplicate.count, c->mismatched.count, c->divergent.count,
           c->misplaced.count, pass ? "pass" : "fail");
    return pass;
}

/*
 * Reads the acks, the rules and every database's rows into c and cfg's
 * databases (owned there, also after a failure). 0, or -1 (reported).
 */
static int lg_check_gather(struct lg_check *c)
{
    struct lg_check_config *cfg = c->cfg;

    for (size_t i = 0; i < cfg->nack_paths; i++)
        if (lg_acks_read(&c->acks, cfg->ack_paths[i]) < 0)
            return -1;
    lg_check_normalize_acks(c);
    if (lg_check_load_rules(c) < 0)
        return -1;
    for (size_t i = 0; i < cfg->ndbs; i++)
        if (lg_db_connect(&cfg->dbs[i], cfg->user, cfg->password) < 0)
            return -1;
    printf("loadgen check: %zu acknowledged orders, %zu database(s)%s\n", c->acks.n, cfg->ndbs,
           c->before != NULL ? ", homes from the rules before/after" : "");
    int64_t t0 = lg_now_us();
    bool caught_up = lg_db_wait_replication(cfg->dbs, cfg->ndbs, cfg->wait_s) == 0;
    for (size_t i = 0; i < cfg->ndbs; i++) {
        if (lg_db_load_rows(&cfg->dbs[i]) < 0)
            return -1;
        printf("  %-6s %s:%u  %zu rows\n", cfg->dbs[i].name, cfg->dbs[i].host,
               cfg->dbs[i].port, cfg->dbs[i].nrows);
    }
    printf("  replication %s (%.2f s)\n", caught_up ? "caught up" : "DID NOT catch up",
           (double)(lg_now_us() - t0) / 1e6);
    return 0;
}

int lg_check_main(struct lg_check_config *cfg)
{
    struct lg_check c;
    int rc = 2;

    memset(&c, 0, sizeof(c));
    c.cfg = cfg;
    if (lg_check_gather(&c) < 0)
        goto out;
    for (size_t i = 0; i < cfg->ndbs; i++) {
        lg_check_acks_on(&c, &cfg->dbs[i]);
        lg_check_placement_on(&c, &cfg->dbs[i]);
        if (i > 0)
            lg_check_divergence(&c, &cfg->dbs[0], &cfg->dbs[i]);
    }
    rc = lg_check_report(&c) ? 0 : 1;
out:
    for (size_t i = 0; i < cfg->ndbs; i++)
        lg_db_deinit(&cfg->dbs[i]);
    rules_destroy(c.before);
    rules_destroy(c.after);
    lg_acks_deinit(&c.acks);
    return rc;
}

void lg_check_usage(FILE *out)
{
    fprintf(out,
        "usage: loadgen check --acks FILE [--acks FILE]... --db NAME=HOST:PORT\n"
        "                     [--db NAME=HOST:PORT]... --db-user USER --db-password-file F\n"
        "                     [--wait-seconds S] [--max-moves N]\n"
        "                     [--rules-before FILE --rules-after FILE --topology FILE]\n"
        "  Waits up to S seconds (default 30) until every database has applied every\n"
        "  other one's writes, then checks table unitroute.orders on each: every\n"
        "  acknowledged order exists exactly once with its buyer; all databases hold\n"
        "  the same rows (buyer, unit); each buyer's rows, ordered by created, never\n"
        "  return to a unit they left and change unit at most N times (default 1);\n"
        "  with rules, a buyer's rows are in its home before, then its home after.\n"
        "  Exit 0 if every count is zero, 1 if not, 2 if it could not check.\n");
}

/* NAME=HOST:PORT into db (cleared first); 0, or -1 with db untouched. */
static int lg_parse_db(const char *arg, struct lg_db *db)
{
    const char *eq = strchr(arg, '='), *colon = strrchr(arg, ':');
    uint64_t port;

    if (eq == NULL || colon == NULL || colon < eq || eq == arg ||
        (size_t)(eq - arg) >= sizeof(db->name) || colon == eq + 1 ||
        (size_t)(colon - eq - 1) >= sizeof(db->host) ||
        lg_parse_u64(colon + 1, 1, 65535, &port) < 0)
        return -1;
    memset(db, 0, sizeof(*db));
    snprintf(db->name, sizeof(db->name), "%.*s", (int)(eq - arg), arg);
    snprintf(db->host, sizeof(db->host), "%.*s", (int)(colon - eq - 1), eq + 1);
    db->port = (unsigned)port;
    return 0;
}

/* 0 = check, 1 = help printed, -1 = bad arguments (reported). */
int lg_check_parse(int argc, char **argv, struct lg_check_config *cfg)
{
    static const struct option opts[] = {
        { "acks", required_argument, NULL, 'a' },
        { "db", required_argument, NULL, 'd' },
        { "db-user", required_argument, NULL, 'u' },
        { "db-password-file", required_argument, NULL, 'p' },
        { "wait-seconds", required_argument, NULL, 'w' },
        { "max-moves", required_argument, NULL, 'm' },
        { "rules-before", required_argument, NULL, 'B' },
        { "rules-after", required_argument, NULL, 'A' },
        { "topology", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *password_file = NULL;
    int ch;

    memset(cfg, 0, sizeof(*cfg));
    cfg->wait_s = 30;
    cfg->max_moves = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'a': bad = cfg->nack_paths == LG_ACK_FILES_MAX;
                  if (!bad)
                      cfg->ack_paths[cfg->nack_paths++] = optarg;
                  break;
        case 'd': bad = cfg->ndbs == LG_DBS_MAX || lg_parse_db(optarg, &cfg->dbs[cfg->ndbs]) < 0;
                  cfg->ndbs += !bad;
                  break;
        case 'u': cfg->user = optarg; break;
        case 'p': password_file = optarg; break;
        case 'w': bad = lg_parse_u64(optarg, 0, 3600, &cfg->wait_s); break;
        case 'm': bad = lg_parse_u64(optarg, 0, 1000, &cfg->max_moves); break;
        case 'B': cfg->rules_before = optarg; break;
        case 'A': cfg->rules_after = optarg; break;
        case 't': cfg->topology = optarg; break;
        case 'h': lg_check_usage(stdout); return 1;
        default:  lg_check_usage(stderr); return -1;
        }
        if (bad) {
            fprintf(stderr, "loadgen check: bad value \"%s\"\n", optarg);
            return -1;
        }
    }
    if (cfg->nack_paths == 0 || cfg->ndbs == 0 || cfg->user == NULL || password_file == NULL ||
        optind < argc) {
        fprintf(stderr, "loadgen check: --acks, --db, --db-user and --db-password-file are "
                        "required (and nothing else)\n");
        return -1;
    }
    return lg_read_password(password_file, cfg->password, sizeof(cfg->password));
}

