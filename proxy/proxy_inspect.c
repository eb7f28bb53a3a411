/*
 * proxy_inspect: the decisions on one connection's commands, and the state
 * they need: its prepared statements (classification, key parameter,
 * bound types, long-data parameters) and its write set (the buyer ids
 * written by the open transaction or by a write in flight).
 *
 *   COM_QUERY    classify every statement (no lock); if one writes: under
 *                w->lock, decide each against the current rules and record
 *                the keys, or record nothing and refuse the whole query
 *   PREPARE      classify; refuse what no parameter value can fix
 *   EXECUTE      read the key parameters from the packet, then decide and
 *                record under w->lock, as a query
 *   any command  but COMMIT/ROLLBACK while the write set holds a now-banned
 *                key -> SQL_REFUSE_TXN_BANNED
 *
 * The write set is changed only under w->lock: the ban drain reads it.
 */
#include "proxy/proxy_inspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "proxy/mysql_packet.h"
#include "proxy/sql_charset.h"

/* MariaDB lets EXECUTE name the statement prepared last as id 0xffffffff
 * (PREPARE and EXECUTE sent back to back: mariadb_stmt_execute_direct). */
#define STMT_ID_LAST 0xffffffffu

struct proxy_stmt *inspect_stmt_find(struct proxy_conn *c, uint32_t id)
{
    if (id == STMT_ID_LAST)
        id = c->last_stmt_id;
    for (size_t i = 0; i < c->nstmts; i++)
        if (c->stmts[i].id == id)
            return &c->stmts[i];
    return NULL;
}

static void stmt_free(struct proxy_stmt *s)
{
    if (s->st) {
        sql_stmt_deinit(s->st);
        free(s->st);
    }
    free(s->types);
    free(s->long_data);
}

void inspect_stmts_clear(struct proxy_conn *c)
{
    for (size_t i = 0; i < c->nstmts; i++)
        stmt_free(&c->stmts[i]);
    c->nstmts = 0;
}

void inspect_stmt_remove(struct proxy_conn *c, uint32_t id)
{
    struct proxy_stmt *s = inspect_stmt_find(c, id);

    if (s == NULL)
        return;
    stmt_free(s);
    *s = c->stmts[--c->nstmts];
}

/* Take ownership of st as statement id. Returns 0 or -1 (st freed). */
int inspect_stmt_add(struct proxy_conn *c, uint32_t id, uint16_t nparams, struct sql_stmt *st)
{
    struct proxy_stmt s = { .id = id, .nparams = nparams, .st = st };

    inspect_stmt_remove(c, id);
    s.types = calloc(nparams ? 2u * nparams : 1, 1);
    s.long_data = calloc((nparams + 7u) / 8 + 1, 1);
    if (s.types == NULL || s.long_data == NULL)
        goto fail;
    if (c->nstmts == c->stmts_cap) {
        size_t cap = c->stmts_cap ? 2 * c->stmts_cap : 4;
        struct proxy_stmt *v = realloc(c->stmts, cap * sizeof(*v));
        if (v == NULL)
            goto fail;
        c->stmts = v;
        c->stmts_cap = cap;
    }
    c->stmts[c->nstmts++] = s;
    return 0;
fail:
    stmt_free(&s);
    return -1;
}

void inspect_release(struct proxy_conn *c)
{
    inspect_stmts_clear(c);
    free(c->stmts);
    c->stmts = NULL;
    c->stmts_cap = 0;
    if (c->prep_pending) {
        sql_stmt_deinit(c->prep_pending);
        free(c->prep_pending);
        c->prep_pending = NULL;
    }
    free(c->wkeys);
    c->wkeys = NULL;
    c->nwkeys = c->wkeys_cap = 0;
}

/* ---- the write set -------------------------------------------------------- */

/* Record the keys of an allowed write (caller holds w->lock). */
static int wkeys_add_stmt(struct proxy_conn *c, const struct sql_stmt *st)
{
    size_t n = st->nkeys + (st->has_hint ? 1 : 0);

    for (size_t i = 0; i < n; i++) {
        uint64_t k = i < st->nkeys ? st->keys[i] : st->hint;
        bool seen = false;
        for (size_t j = 0; j < c->nwkeys && !seen; j++)
            seen = c->wkeys[j] == k;
        if (seen)
            continue;
        if (c->nwkeys == c->wkeys_cap) {
            size_t cap = c->wkeys_cap ? 2 * c->wkeys_cap : 8;
            uint64_t *v = realloc(c->wkeys, cap * sizeof(*v));
            if (v == NULL)
                return -1;
            c->wkeys = v;
            c->wkeys_cap = cap;
        }
        c->wkeys[c->nwkeys++] = k;
    }
    return 0;
}

bool inspect_blocks_ban(const struct proxy_conn *c, const struct rules *r)
{
    for (size_t i = 0; r && i < c->nwkeys; i++)
        if (rules_is_write_banned(r, c->wkeys[i]))
            return true;
    return false;
}

/* The open transaction wrote a now-banned bucket: only COMMIT/ROLLBACK pass. */
static bool session_txn_banned(struct proxy_conn *c, char *msg, size_t msglen)
{
    struct rules_store *store = &c->w->px->keeper->store;
    struct rules_guard g;
    bool banned = false;

    if (c->nwkeys == 0)
        return false;
    const struct rules *r = rules_store_get(store, &g);
    for (size_t i = 0; r && i < c->nwkeys && !banned; i++) {
        if (rules_is_write_banned(r, c->wkeys[i])) {
            banned = true;
            snprintf(msg, msglen, "unitproxy txn_banned: this transaction wrote buyer "
                     "%llu (bucket %u), whose writes are now banned (rules version "
                     "%llu): only COMMIT or ROLLBACK is accepted",
                     (unsigned long long)c->wkeys[i], rules_bucket_of(r, c->wkeys[i]),
                     (unsigned long long)r->version);
        }
    }
    rules_store_put(store, &g);
    return banned;
}

/* ---- inspection of commands ------------------------------------------------ */

unsigned inspect_charset_mode(const struct sql_charset *cs)
{
    if (cs == NULL)
        return SQL_MODE_CHARSET_KNOWN | SQL_MODE_MAYBE_A0 | SQL_MODE_MAYBE_FF;
    return SQL_MODE_CHARSET_KNOWN | ((cs->space & SQL_CS_SPACE_A0) ? SQL_MODE_SPACE_A0 : 0) |
           ((cs->space & SQL_CS_SPACE_FF) ? SQL_MODE_SPACE_FF : 0);
}

enum sql_reason inspect_client_charset(struct proxy_conn *c, unsigned id, unsigned *mode,
                                       char *msg, size_t msglen)
{
    const struct sql_charset *cs = sql_charset_by_collation(id);

    if (cs != NULL && cs->unsafe)
        return sql_decide_charset(cs->name, id, msg, msglen);
    if (cs == NULL && c->cs_default == 0)
        return sql_decide_charset(NULL, id, msg, msglen);
    /* an unknown id gets the server's global character_set_client: safe
     * (the proxy refuses to set an unsafe one) but not known which */
    *mode = inspect_charset_mode(cs);
    return SQL_ALLOW;
}

/* How the session reads text: character set, NO_BACKSLASH_ESCAPES, version. */
static unsigned inspect_sql_mode(const struct proxy_conn *c)
{
    return c->cs_mode | SQL_MODE_VERSION(c->server_version) |
           ((c->status & MYSQL_STATUS_NO_BACKSLASH_ESCAPES) ? SQL_MODE_NO_BACKSLASH_ESCAPES : 0);
}

#define CS_BITS (SQL_MODE_CHARSET_KNOWN | SQL_MODE_SPACE_A0 | SQL_MODE_SPACE_FF | \
                 SQL_MODE_MAYBE_A0 | SQL_MODE_MAYBE_FF)

/* The reading mode after st ran (a character set change applies to what follows). */
static unsigned mode_after(unsigned mode, const struct sql_stmt *st)
{
    if (!st->sets_charset)
        return mode;
    return (mode & ~CS_BITS) | inspect_charset_mode(st->charset);
}

/*
 * The reading while the response of a query that changes the character set
 * is in flight, and after it if its statements cannot be followed: the
 * server may be in any set the query named, or the old one, so a whitespace
 * byte on which they disagree is ambiguous.
 */
static unsigned charset_ambiguous(unsigned any, unsigned all)
{
    unsigned sure = SQL_MODE_SPACE_A0 | SQL_MODE_SPACE_FF, maybe;

    maybe = ((any & ~all) & sure) << 2 | (any & (SQL_MODE_MAYBE_A0 | SQL_MODE_MAYBE_FF));
    return SQL_MODE_CHARSET_KNOWN | (all & sure & ~(maybe >> 2)) | maybe;
}

/* ---- session changes awaiting the response ------------------------------- */

/* Statement stmt makes the schema db (lost: one the proxy cannot tell). */
static void pending_add_db(struct proxy_pending *p, uint32_t stmt, const char *db, bool lost)
{
    uint32_t slot = p->ndb++ % PROXY_PENDING_MAX;

    p->db_stmt[slot] = stmt;
    p->db_lost[slot] = lost;
    snprintf(p->db[slot], sizeof(p->db[slot]), "%s", lost ? "" : db);
}

static void pending_add_cs(struct proxy_pending *p, uint32_t stmt, unsigned mode)
{
    uint32_t slot = p->ncs++ % PROXY_PENDING_MAX;

    p->cs_stmt[slot] = stmt;
    p->cs[slot] = mode;
}

/*
 * Does st give exactly one result (an OK, an ERR or one result set)? CALL,
 * EXECUTE, compound statements (BEGIN NOT ATOMIC ...) give one per inner
 * SELECT, then an OK: the proxy counts only what it knows gives one.
 */
static bool stmt_one_result(const struct sql_stmt *st)
{
    if (st->call || st->deferred)
        return false;
    if (st->verb == SQL_VERB_OTHER)
        return st->sets_charset && !st->is_write;  /* SET NAMES / CHARACTER SET */
    return st->verb != SQL_VERB_CALL;
}

#define PICK_NONE    (-1)       /* no change of a completed statement */
#define PICK_UNKNOWN (-2)       /* cannot tell which holds */

/*
 * The slot of the change that holds among the n recorded (statement
 * indexes stmt): the last one below done; with open, statements from done
 * on may have run too, so a change there leaves the outcome unknown.
 */
static int pending_pick(const uint32_t *stmt, uint32_t n, uint32_t done, bool open)
{
    uint32_t lo = n > PROXY_PENDING_MAX ? n - PROXY_PENDING_MAX : 0;

    for (uint32_t j = n; j-- > lo;) {
        uint32_t s = stmt[j % PROXY_PENDING_MAX];
        if (s < done)
            return (int)(j % PROXY_PENDING_MAX);
        if (open)
            return PICK_UNKNOWN;
    }
    return lo > 0 ? PICK_UNKNOWN : PICK_NONE;
}

void inspect_response_end(struct proxy_conn *c)
{
    struct proxy_pending *p = &c->pend;
    uint32_t done = UINT32_MAX;
    bool open = false;

    if (!p->active)
        return;
    p->active = false;
    if (c->resp_err) {                  /* the statement after the last result failed */
        open = c->resp_results >= p->exact;
        done = open ? p->exact : c->resp_results;
    }
    int db = p->unsure ? PICK_UNKNOWN : pending_pick(p->db_stmt, p->ndb, done, open);
    if (db == PICK_UNKNOWN || (db >= 0 && p->db_lost[db])) {
        c->db_unknown = true;           /* no schema: a CALL matches no "schema.proc" */
        c->db[0] = '\0';
    } else if (db >= 0) {
        memcpy(c->db, p->db[db], sizeof(c->db));
        c->db_unknown = false;
    }
    int cs = pending_pick(p->cs_stmt, p->ncs, done, open);
    if (cs >= 0)
        c->cs_mode = p->cs[cs];
    else if (cs == PICK_NONE)
        c->cs_mode = p->cs_before;
    /* PICK_UNKNOWN: cs_mode stays the ambiguous reading */
}

void inspect_init_db(struct proxy_conn *c, const uint8_t *name, size_t len)
{
    struct proxy_pending *p = &c->pend;
    char db[SQL_NAME_MAX];

    memset(p, 0, sizeof(*p));
    p->active = true;
    p->exact = 1;
    p->cs_before = c->cs_mode;
    if (len >= sizeof(db) || memchr(name, 0, len)) {
        p->unsure = true;               /* a name the proxy cannot hold */
        return;
    }
    memcpy(db, name, len);
    db[len] = '\0';
    pending_add_db(p, 0, db, false);
}

static bool tok_is(const struct sql_tok *t, const char *word)
{
    return t->type == SQL_TOK_WORD && t->n == strlen(word) && strncasecmp(t->s, word, t->n) == 0;
}

#define SCHEMA_SAME  0          /* the statement leaves the schema as it is */
#define SCHEMA_SET   1          /* it sets the schema db */
#define SCHEMA_LOST  2          /* it runs text the proxy cannot see: schema unknown */

/*
 * What statement st (text sql[0..len), read under mode) does to the schema:
 * USE sets it; `EXECUTE IMMEDIATE 'USE db'` too (the classifier reads the
 * text but reports what it writes, not a USE in it); EXECUTE of a prepared
 * statement or of text the proxy cannot read may run a USE it never saw.
 */
static int stmt_schema(const struct sql_stmt *st, const char *sql, size_t len, unsigned mode,
                       const struct sql_tables *tables, const char *cur_db,
                       char db[SQL_NAME_MAX])
{
    struct sql_lexer lx;
    struct sql_tok t;
    struct sql_stmt inner;
    size_t used;
    int rc = SCHEMA_SAME;

    if (st->verb == SQL_VERB_USE) {
        snprintf(db, SQL_NAME_MAX, "%s", st->use_db);
        return SCHEMA_SET;
    }
    if (st->verb != SQL_VERB_OTHER)
        return SCHEMA_SAME;
    sql_lexer_init(&lx, sql, len, mode);
    sql_lexer_next(&lx, &t);
    if (!tok_is(&t, "EXECUTE"))
        return SCHEMA_SAME;
    sql_lexer_next(&lx, &t);
    if (!tok_is(&t, "IMMEDIATE"))
        return SCHEMA_LOST;             /* EXECUTE name: the prepared text is not kept */
    sql_lexer_next(&lx, &t);
    if (t.type != SQL_TOK_STRING || t.escaped || lx.ambiguous || lx.ambiguous_space)
        return SCHEMA_LOST;
    sql_stmt_init(&inner);
    if (sql_classify_mode(t.s, t.n, mode, tables, cur_db, &inner, &used) != 0)
        rc = SCHEMA_LOST;
    else if (inner.verb == SQL_VERB_USE || inner.verb == SQL_VERB_OTHER)
        rc = stmt_schema(&inner, t.s, t.n, mode, tables, cur_db, db);  /* shorter text */
    sql_stmt_deinit(&inner);
    return rc;
}

/* ---- tables ------------------------------------------------------------------ */

static int rule_rank(const struct sql_table_rule *r, bool is_center)
{
    if (r->cls == SQL_TABLE_OTHER)
        return 2;
    /* the stricter class first: center writes are refused off the center */
    return (r->cls == SQL_TABLE_UNIT) == is_center ? 0 : 1;
}

/*
 * The classified tables as read in an unknown schema: every rule matches
 * its name in any schema, the stricter class first. 0 (any->v owned by the
 * caller), or -1 (ENOMEM).
 */
static int tables_any_schema(const struct proxy *px, struct sql_tables *any)
{
    struct sql_table_rule *v = malloc((px->tables.n ? px->tables.n : 1) * sizeof(*v));
    size_t n = 0;

    if (v == NULL)
        return -1;
    for (int rank = 0; rank < 3; rank++)
        for (size_t i = 0; i < px->tables.n; i++)
            if (rule_rank(&px->tables.v[i], px->is_center) == rank) {
                v[n] = px->tables.v[i];
                v[n++].schema[0] = '\0';
            }
    any->v = v;
    any->n = n;
    return 0;
}

/* The tables to read a statement with: any schema's when it is unknown
 * (any filled on first use, freed by the caller). NULL: out of memory. */
static const struct sql_tables *query_tables(const struct proxy *px, bool unknown,
                                             struct sql_tables *any)
{
    if (!unknown)
        return &px->tables;
    if (any->v == NULL && tables_any_schema(px, any) != 0)
        return NULL;
    return any;
}

/*
 * Decide the statements of a COM_QUERY lexed under mode. Returns SQL_ALLOW
 * (keys recorded; the schema and character set changes in *pend, by
 * statement) or a reason with msg set. Statements after a USE are read in
 * its schema: the server runs them only if it succeeded.
 */
static enum sql_reason inspect_query_mode(struct proxy_conn *c, const char *sql, size_t len,
                                          unsigned mode, unsigned *cs_any, unsigned *cs_all,
                                          unsigned *cs_final, struct proxy_pending *pend,
                                          char *msg, size_t msglen)
{
    unsigned mode0 = mode;
    struct proxy *px = c->w->px;
    char db[SQL_NAME_MAX];
    struct sql_stmt st;
    struct sql_tables any = { NULL, 0 };
    enum sql_reason why = SQL_ALLOW;
    bool any_write = false, only_txn_end = true, unknown = c->db_unknown;
    size_t off = 0, used, nstmts = 0, wkeys_before = c->nwkeys;

    sql_stmt_init(&st);
    memcpy(db, c->db, sizeof(db));
    while (off < len) {                 /* pass 1: no lock */
        const struct sql_tables *tables = query_tables(px, unknown, &any);
        if (tables == NULL ||
            sql_classify_mode(sql + off, len - off, mode, tables, db, &st, &used) != 0) {
            snprintf(msg, msglen, "unitproxy: out of memory");
            sql_stmt_deinit(&st);
            free((void *)any.v);
            return SQL_REFUSE_TOO_LARGE;
        }
        size_t used_n = used ? used : len - off;
        off += used_n;
        if (pend->exact == nstmts && stmt_one_result(&st))
            pend->exact++;
        int sc = stmt_schema(&st, sql + off - used_n, used_n, mode, &px->tables, db, db);
        if (sc != SCHEMA_SAME) {
            unknown = sc == SCHEMA_LOST;
            if (unknown)
                db[0] = '\0';
            pending_add_db(pend, (uint32_t)nstmts, db, unknown);
        }
        mode = mode_after(mode, &st);
        if (st.sets_charset) {
            *cs_any |= mode & CS_BITS;
            *cs_all &= mode & CS_BITS;
            pending_add_cs(pend, (uint32_t)nstmts, mode & CS_BITS);
        }
        nstmts++;
        any_write |= st.is_write || st.verb == SQL_VERB_XA || st.unsafe != SQL_UNSAFE_NONE;
        if (st.verb != SQL_VERB_ROLLBACK && st.verb != SQL_VERB_COMMIT &&
            st.verb != SQL_VERB_EMPTY)
            only_txn_end = false;
    }
    if (!only_txn_end && session_txn_banned(c, msg, msglen)) {
        sql_stmt_deinit(&st);
        free((void *)any.v);
        return SQL_REFUSE_TXN_BANNED;
    }
    *cs_final = mode;
    if (!any_write) {
        atomic_fetch_add(&px->m.statements[0][0], nstmts);
        sql_stmt_deinit(&st);
        free((void *)any.v);
        return SQL_ALLOW;
    }
    /* pass 2: decide the writes against the current rules, under the lock */
    struct rules_guard g;
    pthread_mutex_lock(&c->w->lock);
    const struct rules *r = rules_store_get(&px->keeper->store, &g);
    mode = mode0;
    unknown = c->db_unknown;
    memcpy(db, c->db, sizeof(db));
    for (off = 0; off < len && why == SQL_ALLOW;) {
        const struct sql_tables *tables = query_tables(px, unknown, &any);
        if (tables == NULL ||
            sql_classify_mode(sql + off, len - off, mode, tables, db, &st, &used) != 0) {
            why = SQL_REFUSE_TOO_LARGE;
            snprintf(msg, msglen, "unitproxy: out of memory");
            break;
        }
        size_t used_n = used ? used : len - off;
        off += used_n;
        int sc = stmt_schema(&st, sql + off - used_n, used_n, mode, &px->tables, db, db);
        if (sc != SCHEMA_SAME)
            unknown = sc == SCHEMA_LOST;
        if (sc == SCHEMA_LOST)
            db[0] = '\0';
        mode = mode_after(mode, &st);
        if (!st.is_write && st.verb != SQL_VERB_XA && st.unsafe == SQL_UNSAFE_NONE) {
            atomic_fetch_add(&px->m.statements[0][0], 1);
            continue;
        }
        why = sql_decide(&st, r, px->cfg.unit, px->is_center, &px->cfg.policy,
                         msg, msglen);
        atomic_fetch_add(&px->m.statements[1][why != SQL_ALLOW], 1);
        if (why == SQL_ALLOW && st.unit_table && wkeys_add_stmt(c, &st) != 0) {
            why = SQL_REFUSE_TOO_LARGE;
            snprintf(msg, msglen, "unitproxy: out of memory");
        }
    }
    if (why != SQL_ALLOW)
        c->nwkeys = wkeys_before;       /* nothing of this command runs */
    rules_store_put(&px->keeper->store, &g);
    pthread_mutex_unlock(&c->w->lock);
    sql_stmt_deinit(&st);
    free((void *)any.v);
    return why;
}

/* Does text contain word, ignoring case? */
static bool text_has(const char *text, size_t len, const char *word)
{
    size_t n = strlen(word);

    for (size_t i = 0; i + n <= len; i++)
        if (strncasecmp(text + i, word, n) == 0)
            return true;
    return false;
}

enum sql_reason inspect_query(struct proxy_conn *c, const char *sql, size_t len,
                              char *msg, size_t msglen)
{
    unsigned mode = inspect_sql_mode(c), any = c->cs_mode, all = c->cs_mode, final = mode;
    size_t wkeys_before = c->nwkeys;
    struct proxy_pending pend;

    memset(&pend, 0, sizeof(pend));
    pend.cs_before = c->cs_mode;
    enum sql_reason why = inspect_query_mode(c, sql, len, mode, &any, &all, &final, &pend,
                                             msg, msglen);
    /*
     * A multi-statement query that sets sql_mode can change how backslashes
     * in its later statements are read: then both readings must pass, and
     * if they split the statements differently the schema is not known.
     */
    if (why == SQL_ALLOW && memchr(sql, '\\', len) && text_has(sql, len, "sql_mode")) {
        unsigned any2 = any, all2 = all, final2;
        struct proxy_pending pend2;
        memset(&pend2, 0, sizeof(pend2));
        pend2.cs_before = c->cs_mode;
        why = inspect_query_mode(c, sql, len, mode ^ SQL_MODE_NO_BACKSLASH_ESCAPES,
                                 &any2, &all2, &final2, &pend2, msg, msglen);
        if (why != SQL_ALLOW) {
            pthread_mutex_lock(&c->w->lock);
            c->nwkeys = wkeys_before;
            pthread_mutex_unlock(&c->w->lock);
        }
        if (memcmp(&pend, &pend2, sizeof(pend)) != 0)
            pend.unsure = true;
    }
    if (why != SQL_ALLOW)
        return why;
    if (any != c->cs_mode || all != c->cs_mode || (final & CS_BITS) != c->cs_mode)
        c->cs_mode = charset_ambiguous(any, all);   /* until the response ends */
    pend.active = pend.ndb > 0 || pend.ncs > 0 || pend.unsure;
    c->pend = pend;
    return why;
}

/* PREPARE: classify now, refuse what no parameter value can make valid. */
enum sql_reason inspect_prepare(struct proxy_conn *c, const char *sql, size_t len,
                                char *msg, size_t msglen)
{
    struct proxy *px = c->w->px;
    struct sql_stmt *st = malloc(sizeof(*st));
    size_t used;

    struct sql_tables any = { NULL, 0 };

    if (st == NULL || (c->db_unknown && tables_any_schema(px, &any) != 0)) {
        free(st);
        snprintf(msg, msglen, "unitproxy: out of memory");
        return SQL_REFUSE_TOO_LARGE;
    }
    sql_stmt_init(st);
    int rc = sql_classify_mode(sql, len, inspect_sql_mode(c), c->db_unknown ? &any : &px->tables,
                               c->db, st, &used);
    free((void *)any.v);
    if (rc != 0) {
        sql_stmt_deinit(st);
        free(st);
        snprintf(msg, msglen, "unitproxy: out of memory");
        return SQL_REFUSE_TOO_LARGE;
    }
    if (st->sets_charset && st->unsafe == SQL_UNSAFE_NONE) {
        st->unsafe = SQL_UNSAFE_CHARSET;
        snprintf(st->unsafe_value, sizeof(st->unsafe_value), "(in COM_STMT_PREPARE)");
        st->unsafe_why = "a prepared character set change would run at an EXECUTE the "
                         "proxy cannot follow; send the SET as a plain query";
    }
    if (st->unsafe != SQL_UNSAFE_NONE) {
        enum sql_reason why = sql_decide_session(st, msg, msglen);
        atomic_fetch_add(&px->m.statements[1][1], 1);
        sql_stmt_deinit(st);
        free(st);
        return why;
    }
    if (st->is_write) {
        /* without rules the decision stops at NO_RULES once static checks pass */
        struct sql_stmt probe;
        enum sql_reason why;
        if (sql_stmt_copy(&probe, st) != 0) {
            why = SQL_REFUSE_TOO_LARGE;
        } else {
            if (probe.nkey_params > 0 && probe.nkeys == 0 && !probe.has_hint)
                sql_stmt_add_key(&probe, 0);    /* stands for the parameter */
            why = sql_decide(&probe, NULL, px->cfg.unit, px->is_center,
                             &px->cfg.policy, msg, msglen);
            sql_stmt_deinit(&probe);
        }
        if (why != SQL_ALLOW && why != SQL_REFUSE_NO_RULES) {
            atomic_fetch_add(&px->m.statements[1][1], 1);
            sql_stmt_deinit(st);
            free(st);
            return why;
        }
    }
    c->prep_pending = st;
    return SQL_ALLOW;
}

/* EXECUTE: the key parameters' values, then the same decision as a query. */
enum sql_reason inspect_execute(struct proxy_conn *c, const uint8_t *p, size_t len,
                                char *msg, size_t msglen)
{
    struct proxy *px = c->w->px;
    struct proxy_stmt *s;
    uint32_t id;
    enum sql_reason why = SQL_ALLOW;

    if (mysql_stmt_id(p, len, &id) != 0 || (s = inspect_stmt_find(c, id)) == NULL)
        return SQL_ALLOW;               /* the server answers unknown ids */
    if (session_txn_banned(c, msg, msglen))
        return SQL_REFUSE_TXN_BANNED;
    if (s->st->verb == SQL_VERB_USE)    /* a prepared USE changes the schema at each run */
        inspect_init_db(c, (const uint8_t *)s->st->use_db, strlen(s->st->use_db));
    if (!s->st->is_write) {
        atomic_fetch_add(&px->m.statements[0][0], 1);
        memset(s->long_data, 0, (s->nparams + 7u) / 8 + 1);
        return SQL_ALLOW;
    }
    struct sql_stmt d;
    if (sql_stmt_copy(&d, s->st) != 0) {
        snprintf(msg, msglen, "unitproxy: out of memory");
        return SQL_REFUSE_TOO_LARGE;
    }
    for (size_t i = 0; i < d.nkey_params; i++) {
        struct mysql_param_value v;
        if (mysql_execute_param(p, len, s->nparams, s->types, &s->types_known,
                                s->long_data, d.key_params[i], &v) != 0 ||
            !v.is_int || v.negative)
            d.key_unknown = true;
        else if (sql_stmt_add_key(&d, v.u) != 0)
            d.key_unknown = true;
    }
    d.nkey_params = 0;
    memset(s->long_data, 0, (s->nparams + 7u) / 8 + 1);

    struct rules_guard g;
    pthread_mutex_lock(&c->w->lock);
    const struct rules *r = rules_store_get(&px->keeper->store, &g);
    why = sql_decide(&d, r, px->cfg.unit, px->is_center, &px->cfg.policy, msg, msglen);
    if (why == SQL_ALLOW && d.unit_table && wkeys_add_stmt(c, &d) != 0) {
        why = SQL_REFUSE_TOO_LARGE;
        snprintf(msg, msglen, "unitproxy: out of memory");
    }
    rules_store_put(&px->keeper->store, &g);
    pthread_mutex_unlock(&c->w->lock);
    atomic_fetch_add(&px->m.statements[1][why != SQL_ALLOW], 1);
    sql_stmt_deinit(&d);
    return why;
}
