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
 * Character set changes of an allowed query: cs_mode until its response
 * ends. The server stops at the first failing statement, so it may be in
 * any set the query named, or the old one: a whitespace byte on which they
 * disagree is ambiguous until the response ends without an error.
 */
static void inspect_charset_changed(struct proxy_conn *c, unsigned final, unsigned any,
                                    unsigned all)
{
    unsigned sure = SQL_MODE_SPACE_A0 | SQL_MODE_SPACE_FF, maybe;

    maybe = ((any & ~all) & sure) << 2 | (any & (SQL_MODE_MAYBE_A0 | SQL_MODE_MAYBE_FF));
    c->cs_mode = SQL_MODE_CHARSET_KNOWN | (all & sure & ~(maybe >> 2)) | maybe;
    c->cs_mode_next = final & CS_BITS;
    c->cs_confirm = true;
}

/*
 * Decide the statements of a COM_QUERY lexed under mode. Returns SQL_ALLOW
 * (keys recorded, c->db follows USE) or a reason with msg set.
 */
static enum sql_reason inspect_query_mode(struct proxy_conn *c, const char *sql, size_t len,
                                          unsigned mode, unsigned *cs_any, unsigned *cs_all,
                                          unsigned *cs_final, char *msg, size_t msglen)
{
    unsigned mode0 = mode;
    struct proxy *px = c->w->px;
    char db[SQL_NAME_MAX];
    struct sql_stmt st;
    enum sql_reason why = SQL_ALLOW;
    bool any_write = false, only_txn_end = true;
    size_t off = 0, used, nstmts = 0, wkeys_before = c->nwkeys;

    sql_stmt_init(&st);
    memcpy(db, c->db, sizeof(db));
    while (off < len) {                 /* pass 1: no lock */
        if (sql_classify_mode(sql + off, len - off, mode, &px->tables, db, &st, &used) != 0) {
            snprintf(msg, msglen, "unitproxy: out of memory");
            sql_stmt_deinit(&st);
            return SQL_REFUSE_TOO_LARGE;
        }
        off += used ? used : len - off;
        nstmts++;
        if (st.verb == SQL_VERB_USE)
            snprintf(db, sizeof(db), "%s", st.use_db);
        mode = mode_after(mode, &st);
        if (st.sets_charset) {
            *cs_any |= mode & CS_BITS;
            *cs_all &= mode & CS_BITS;
        }
        any_write |= st.is_write || st.verb == SQL_VERB_XA || st.unsafe != SQL_UNSAFE_NONE;
        if (st.verb != SQL_VERB_ROLLBACK && st.verb != SQL_VERB_COMMIT &&
            st.verb != SQL_VERB_EMPTY)
            only_txn_end = false;
    }
    if (!only_txn_end && session_txn_banned(c, msg, msglen)) {
        sql_stmt_deinit(&st);
        return SQL_REFUSE_TXN_BANNED;
    }
    *cs_final = mode;
    if (!any_write) {
        atomic_fetch_add(&px->m.statements[0][0], nstmts);
        memcpy(c->db, db, sizeof(db));
        sql_stmt_deinit(&st);
        return SQL_ALLOW;
    }
    /* pass 2: decide the writes against the current rules, under the lock */
    struct rules_guard g;
    pthread_mutex_lock(&c->w->lock);
    const struct rules *r = rules_store_get(&px->keeper->store, &g);
    mode = mode0;
    memcpy(db, c->db, sizeof(db));
    for (off = 0; off < len && why == SQL_ALLOW;) {
        if (sql_classify_mode(sql + off, len - off, mode, &px->tables, db, &st, &used) != 0) {
            why = SQL_REFUSE_TOO_LARGE;
            snprintf(msg, msglen, "unitproxy: out of memory");
            break;
        }
        off += used ? used : len - off;
        if (st.verb == SQL_VERB_USE)
            snprintf(db, sizeof(db), "%s", st.use_db);
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
    else
        memcpy(c->db, db, sizeof(db));
    rules_store_put(&px->keeper->store, &g);
    pthread_mutex_unlock(&c->w->lock);
    sql_stmt_deinit(&st);
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
    char db[SQL_NAME_MAX];

    memcpy(db, c->db, sizeof(db));
    enum sql_reason why = inspect_query_mode(c, sql, len, mode, &any, &all, &final, msg, msglen);
    /*
     * A multi-statement query that sets sql_mode can change how backslashes
     * in its later statements are read: then both readings must pass.
     */
    if (why == SQL_ALLOW && memchr(sql, '\\', len) && text_has(sql, len, "sql_mode")) {
        char db_after[SQL_NAME_MAX];
        memcpy(db_after, c->db, sizeof(db_after));
        memcpy(c->db, db, sizeof(db));
        unsigned any2 = any, all2 = all, final2;
        why = inspect_query_mode(c, sql, len, mode ^ SQL_MODE_NO_BACKSLASH_ESCAPES,
                                 &any2, &all2, &final2, msg, msglen);
        if (why != SQL_ALLOW) {
            pthread_mutex_lock(&c->w->lock);
            c->nwkeys = wkeys_before;
            pthread_mutex_unlock(&c->w->lock);
        }
        memcpy(c->db, why == SQL_ALLOW ? db_after : db, sizeof(db));
    }
    if (why == SQL_ALLOW && (any != c->cs_mode || all != c->cs_mode ||
                             (final & CS_BITS) != c->cs_mode))
        inspect_charset_changed(c, final, any, all);
    return why;
}

/* PREPARE: classify now, refuse what no parameter value can make valid. */
enum sql_reason inspect_prepare(struct proxy_conn *c, const char *sql, size_t len,
                                char *msg, size_t msglen)
{
    struct proxy *px = c->w->px;
    struct sql_stmt *st = malloc(sizeof(*st));
    size_t used;

    if (st == NULL)
        return SQL_REFUSE_TOO_LARGE;
    sql_stmt_init(st);
    if (sql_classify_mode(sql, len, inspect_sql_mode(c), &px->tables, c->db, st, &used) != 0) {
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
