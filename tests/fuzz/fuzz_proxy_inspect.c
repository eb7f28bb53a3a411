/*
 * fuzz_proxy_inspect.c: a connection's command decisions (proxy/proxy_inspect.h)
 * over a sequence of COM_QUERY, COM_STMT_PREPARE / EXECUTE / CLOSE /
 * SEND_LONG_DATA and session changes decoded from the input, in unit dc-a
 * (buckets 0-49; 50-99 are dc-b's, 10-19 banned).
 *
 *   byte 0: bit 0 this unit is the center; then ops, each an opcode byte
 *   0 PREPARE  n, n bytes of SQL (the server reports its placeholders)
 *   1 EXECUTE  statement pick, n, n bytes after the fixed 10-byte head
 *   2 CLOSE    statement pick       3 QUERY n, n bytes of SQL
 *   4 LONG_DATA statement pick, parameter
 *   5 NO_BACKSLASH_ESCAPES toggles  6 the transaction ends (write set cleared)
 *
 * Properties: no crash, leak or undefined behaviour; every key in the write
 * set is homed in dc-a and not banned; an EXECUTE of a statement prepared as
 * a unit-table write without a hint is allowed only when its keys are known
 * and every key parameter carries an integer key homed in dc-a, not banned.
 */
#include <pthread.h>
#include <string.h>

#include "proxy/mysql_packet.h"
#include "proxy/proxy_inspect.h"
#include "tests/fuzz/fuzz.h"

static const struct sql_table_rule table_rules[] = {
    { "", "orders", SQL_TABLE_UNIT, "buyer_id" },
    { "", "carts", SQL_TABLE_UNIT, "owner" },
    { "", "sellers", SQL_TABLE_CENTER, "" },
};
static const char *const units[] = { "dc-a", "dc-b" };

static struct proxy        px;
static struct rules_keeper keeper;
static struct proxy_worker worker;

/* The proxy, its rules and worker: made once, shared by every input. */
static void fuzz_setup(void)
{
    static const char text[] =
        "version = 7L; buckets = 100;\n"
        "ranges = ( { first = 0; last = 49; unit = \"dc-a\"; },\n"
        "           { first = 50; last = 99; unit = \"dc-b\"; } );\n"
        "overrides = ( );\nbans = ( { first = 10; last = 19; } );\n";
    static bool done;
    char err[256];

    if (done)
        return;
    rules_store_init(&keeper.store);
    struct rules *r = rules_parse(text, strlen(text), units, 2, err, sizeof(err));
    FUZZ_CHECK(r != NULL);
    rules_store_swap(&keeper.store, r);
    px.keeper = &keeper;
    snprintf(px.cfg.unit, sizeof(px.cfg.unit), "dc-a");
    px.tables.v = table_rules;
    px.tables.n = sizeof(table_rules) / sizeof(table_rules[0]);
    worker.px = &px;
    pthread_mutex_init(&worker.lock, NULL);
    done = true;
}

/* A key this unit may write. */
static bool key_ok(uint64_t key)
{
    struct rules_guard g;
    const struct rules *r = rules_store_get(&keeper.store, &g);
    bool ok = strcmp(rules_unit_name(r, rules_unit_for_buyer(r, key)), "dc-a") == 0 &&
              !rules_is_write_banned(r, key);

    rules_store_put(&keeper.store, &g);
    return ok;
}

/* The input, read a byte or a run at a time (zeros past its end). */
struct cursor {
    const uint8_t *p;
    size_t left;
};

static uint8_t next_byte(struct cursor *in)
{
    if (in->left == 0)
        return 0;
    in->left--;
    return *in->p++;
}

static const uint8_t *next_run(struct cursor *in, size_t *n)
{
    const uint8_t *s = in->p;

    if (*n > in->left)
        *n = in->left;
    in->p += *n;
    in->left -= *n;
    return s;
}

/* A prepared statement by the input's pick (or an id the server never gave). */
static uint32_t pick_id(struct proxy_conn *c, struct cursor *in)
{
    uint8_t b = next_byte(in);

    if (b == 0xff)
        return 0xffffffffu;     /* MariaDB: the last prepared */
    return c->nstmts ? c->stmts[b % c->nstmts].id : 999;
}

static void op_prepare(struct proxy_conn *c, struct cursor *in, uint32_t *next_id)
{
    size_t n = next_byte(in) % 128;
    const char *sql = (const char *)next_run(in, &n);
    char msg[512];

    if (inspect_prepare(c, sql, n, msg, sizeof(msg)) != SQL_ALLOW)
        return;
    FUZZ_CHECK(c->prep_pending != NULL);
    uint32_t id = ++*next_id;
    struct sql_stmt *st = c->prep_pending;
    c->prep_pending = NULL;
    if (inspect_stmt_add(c, id, st->nparams, st) == 0)
        c->last_stmt_id = id;
}

/*
 * Was an allowed EXECUTE of s (payload p) sound? types / known / long_data
 * are the statement's state before the execute.
 */
static void check_allowed_execute(const struct proxy_stmt *s, const uint8_t *p, size_t len,
                                  uint8_t *types, bool known, const uint8_t *long_data)
{
    const struct sql_stmt *st = s->st;

    if (!st->is_write || !st->unit_table || st->has_hint)
        return;
    FUZZ_CHECK(!st->key_unknown && !st->deferred && !st->all_rows && !st->call);
    FUZZ_CHECK(st->nkeys + st->nkey_params > 0);
    for (size_t i = 0; i < st->nkeys; i++)
        FUZZ_CHECK(key_ok(st->keys[i]));
    for (size_t i = 0; i < st->nkey_params; i++) {
        struct mysql_param_value v;
        FUZZ_CHECK(mysql_execute_param(p, len, s->nparams, types, &known, long_data,
                                       st->key_params[i], &v) == 0);
        FUZZ_CHECK(v.is_int && !v.negative && key_ok(v.u));
    }
}

static void op_execute(struct proxy_conn *c, struct cursor *in)
{
    uint8_t p[10 + 255];
    size_t n = next_byte(in);
    uint32_t id = pick_id(c, in);
    char msg[512];

    p[0] = MYSQL_COM_STMT_EXECUTE;
    memcpy(p + 1, &id, 4);              /* little-endian hosts only, as the proxy */
    p[5] = 0;
    memcpy(p + 6, "\x01\x00\x00\x00", 4);
    memcpy(p + 10, next_run(in, &n), n);
    struct proxy_stmt *s = inspect_stmt_find(c, id);
    if (s == NULL) {
        FUZZ_CHECK(inspect_execute(c, p, 10 + n, msg, sizeof(msg)) == SQL_ALLOW);
        return;
    }
    size_t tn = s->nparams ? 2u * s->nparams : 1, ln = (s->nparams + 7u) / 8 + 1;
    uint8_t *types = malloc(tn), *long_data = malloc(ln);
    bool known = s->types_known;
    if (types != NULL && long_data != NULL) {
        memcpy(types, s->types, tn);
        memcpy(long_data, s->long_data, ln);
        if (inspect_execute(c, p, 10 + n, msg, sizeof(msg)) == SQL_ALLOW)
            check_allowed_execute(s, p, 10 + n, types, known, long_data);
    }
    free(types);
    free(long_data);
}

static void op_long_data(struct proxy_conn *c, struct cursor *in)
{
    struct proxy_stmt *s = inspect_stmt_find(c, pick_id(c, in));
    uint8_t param = next_byte(in);

    if (s != NULL && param < s->nparams)   /* as proxy_session.c does */
        s->long_data[param / 8] |= (uint8_t)(1u << (param % 8));
}

static void run_op(struct proxy_conn *c, struct cursor *in, uint32_t *next_id)
{
    char msg[512];
    size_t n;

    switch (next_byte(in) % 7) {
    case 0:
        op_prepare(c, in, next_id);
        break;
    case 1:
        op_execute(c, in);
        break;
    case 2:
        inspect_stmt_remove(c, pick_id(c, in));
        break;
    case 3:
        n = next_byte(in);
        inspect_query(c, (const char *)next_run(in, &n), n, msg, sizeof(msg));
        break;
    case 4:
        op_long_data(c, in);
        break;
    case 5:
        c->status ^= MYSQL_STATUS_NO_BACKSLASH_ESCAPES;
        break;
    default:
        c->nwkeys = 0;
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cursor in = { data, size };
    struct proxy_conn c;
    uint32_t next_id = 0;

    fuzz_setup();
    px.is_center = (next_byte(&in) & 1) != 0;
    memset(&c, 0, sizeof(c));
    c.w = &worker;
    c.cfd = c.bfd = -1;
    while (in.left > 0) {
        run_op(&c, &in, &next_id);
        for (size_t i = 0; i < c.nwkeys; i++)
            FUZZ_CHECK(key_ok(c.wkeys[i]));
    }
    inspect_release(&c);
    return 0;
}
