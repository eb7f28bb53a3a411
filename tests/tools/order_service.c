/*
 * order_service: the demo application every unit runs behind its gateway.
 *
 *   client --> unitgw --> order_service --text protocol--> unitproxy --> MariaDB
 *                          (thread pool;   INSERT with the hint sharding_key=B
 *                           one MySQL
 *                           connection per
 *                           worker thread)
 *
 *   POST /orders            X-Buyer-Id: B, X-Order-Id: N, [X-Amount: A]
 *        -> INSERT the order with unit = --unit (the unit that wrote it)
 *        -> 200 {"id":N,...}; a duplicate id of the same buyer is the same
 *           order written again (a client retry): 200 too, "duplicate":true
 *   GET  /orders?buyerId=B  the buyer's orders as JSON (oldest first)
 *   GET  /healthz           200 "ok"
 *
 * A database error becomes an HTTP error whose JSON body carries the server's
 * (or proxy's) message and errno, also in the X-Db-Errno header. The mapping
 * is the table order_errno_map plus the --retryable-errno / --refusal-errno
 * lists: retryable -> 503 + Retry-After: 1, refusal -> 409, connection
 * failure -> 502, anything else -> 500.
 *
 * Each pool thread owns one MySQL connection (a pthread key, closed when the
 * thread ends); a lost connection is reopened and the statement retried once,
 * which is safe because an INSERT retried after a lost connection either
 * inserts or finds its own row (duplicate = success).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <mysql.h>

#include "router/admin_http.h"
#include "router/log.h"
#include "router/strbuf.h"

#define ORDER_UNIT_MAX       16     /* orders.unit is VARCHAR(16) */
#define ORDER_ERRNO_LIST_MAX 32
#define ORDER_MESSAGE_MAX    512
#define ORDER_LIST_LIMIT     1000   /* rows returned by GET /orders */

/* errno values of the client library and server used below */
#define ORDER_ER_DUP_ENTRY          1062
#define ORDER_CR_SERVER_GONE_ERROR  2006
#define ORDER_CR_SERVER_LOST        2013

enum order_kind {
    ORDER_KIND_RETRYABLE,   /* 503 + Retry-After: 1 */
    ORDER_KIND_REFUSED,     /* 409 */
    ORDER_KIND_CONNECTION,  /* 502 */
    ORDER_KIND_OTHER,       /* 500 */
};

struct order_errno_entry {
    unsigned        db_errno;
    enum order_kind kind;
    const char     *what;       /* short name, for the reader of this table */
};

/*
 * Known errnos. The proxy's own refusal codes go here once they are fixed
 * (its ban refusal is retryable, its not-home refusal is a refusal); until
 * then pass them with --retryable-errno / --refusal-errno.
 */
static const struct order_errno_entry order_errno_map[] = {
    { 1290, ORDER_KIND_RETRYABLE,  "ER_OPTION_PREVENTS_STATEMENT (read-only, banned)" },
    { 1836, ORDER_KIND_RETRYABLE,  "ER_READ_ONLY_MODE" },
    { 1040, ORDER_KIND_RETRYABLE,  "ER_CON_COUNT_ERROR (too many connections)" },
    { 1205, ORDER_KIND_RETRYABLE,  "ER_LOCK_WAIT_TIMEOUT" },
    { 1213, ORDER_KIND_RETRYABLE,  "ER_LOCK_DEADLOCK" },
    /* unitproxy's refusals (docs/proxy.md) */
    { 7401, ORDER_KIND_REFUSED,    "unitproxy: no sharding key" },
    /* a request routed under older rules can reach a unit that gave the buyer
     * away during a cutover: a retry goes through a gateway again and finds
     * the new home */
    { 7402, ORDER_KIND_RETRYABLE,  "unitproxy: buyer's home is another unit" },
    { 7403, ORDER_KIND_RETRYABLE,  "unitproxy: bucket banned (cutover)" },
    { 7404, ORDER_KIND_REFUSED,    "unitproxy: center table outside the center" },
    { 7405, ORDER_KIND_REFUSED,    "unitproxy: hint and statement disagree" },
    { 7406, ORDER_KIND_REFUSED,    "unitproxy: keys of several units" },
    { 7407, ORDER_KIND_RETRYABLE,  "unitproxy: no rules yet" },
    { 7408, ORDER_KIND_RETRYABLE,  "unitproxy: transaction touched a banned bucket" },
    { 7420, ORDER_KIND_CONNECTION, "unitproxy: backend unreachable" },
    { 7421, ORDER_KIND_CONNECTION, "unitproxy: connection closed by a ban drain" },
    { 1044, ORDER_KIND_REFUSED,    "ER_DBACCESS_DENIED_ERROR" },
    { 1142, ORDER_KIND_REFUSED,    "ER_TABLEACCESS_DENIED_ERROR" },
    { 1045, ORDER_KIND_CONNECTION, "ER_ACCESS_DENIED_ERROR (login refused)" },
    { 1053, ORDER_KIND_CONNECTION, "ER_SERVER_SHUTDOWN" },
    { 2002, ORDER_KIND_CONNECTION, "CR_CONNECTION_ERROR" },
    { 2003, ORDER_KIND_CONNECTION, "CR_CONN_HOST_ERROR" },
    { 2005, ORDER_KIND_CONNECTION, "CR_UNKNOWN_HOST" },
    { 2006, ORDER_KIND_CONNECTION, "CR_SERVER_GONE_ERROR" },
    { 2013, ORDER_KIND_CONNECTION, "CR_SERVER_LOST" },
    { 2026, ORDER_KIND_CONNECTION, "CR_SSL_CONNECTION_ERROR" },
};

struct order_config {
    struct sockaddr_in listen;
    char     unit[ORDER_UNIT_MAX + 1];
    char     db_host[256];
    unsigned db_port;
    char     db_user[128];
    char     db_password[256];
    char     db_name[128];
    unsigned threads;                           /* MHD thread pool size */
    unsigned db_timeout_s;                      /* connect/read/write timeout */
    unsigned retryable[ORDER_ERRNO_LIST_MAX];   /* --retryable-errno */
    size_t   nretryable;
    unsigned refusal[ORDER_ERRNO_LIST_MAX];     /* --refusal-errno */
    size_t   nrefusal;
};

struct order_db_error {
    unsigned code;                      /* mysql_errno */
    char     sqlstate[6];
    char     message[ORDER_MESSAGE_MAX];
};

struct order_reply {
    unsigned      status;
    struct strbuf body;
    unsigned      db_errno;             /* X-Db-Errno, 0 = none */
    bool          retry_after;          /* Retry-After: 1 */
};

static pthread_key_t order_conn_key;    /* this pool thread's MYSQL * */
static volatile sig_atomic_t order_stop;
static int order_request_marker;        /* *con_cls once the headers are in */

/* ---- errno -> HTTP -------------------------------------------------------- */

static bool order_errno_listed(const unsigned *list, size_t n, unsigned code)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == code)
            return true;
    return false;
}

/* The command-line lists win over the built-in table. */
static enum order_kind order_classify_errno(const struct order_config *cfg, unsigned code)
{
    if (order_errno_listed(cfg->retryable, cfg->nretryable, code))
        return ORDER_KIND_RETRYABLE;
    if (order_errno_listed(cfg->refusal, cfg->nrefusal, code))
        return ORDER_KIND_REFUSED;
    for (size_t i = 0; i < sizeof(order_errno_map) / sizeof(order_errno_map[0]); i++)
        if (order_errno_map[i].db_errno == code)
            return order_errno_map[i].kind;
    return ORDER_KIND_OTHER;
}

static unsigned order_kind_status(enum order_kind kind)
{
    switch (kind) {
    case ORDER_KIND_RETRYABLE:  return MHD_HTTP_SERVICE_UNAVAILABLE;
    case ORDER_KIND_REFUSED:    return MHD_HTTP_CONFLICT;
    case ORDER_KIND_CONNECTION: return MHD_HTTP_BAD_GATEWAY;
    case ORDER_KIND_OTHER:      break;
    }
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
}

static const char *order_kind_name(enum order_kind kind)
{
    switch (kind) {
    case ORDER_KIND_RETRYABLE:  return "retryable";
    case ORDER_KIND_REFUSED:    return "refused";
    case ORDER_KIND_CONNECTION: return "connection";
    case ORDER_KIND_OTHER:      break;
    }
    return "database";
}

/* ---- replies -------------------------------------------------------------- */

static void order_reply_init(struct order_reply *r)
{
    memset(r, 0, sizeof(*r));
    r->status = MHD_HTTP_OK;
    strbuf_init(&r->body);
}

static void order_reply_client_error(struct order_reply *r, unsigned status, const char *msg)
{
    r->status = status;
    strbuf_reset(&r->body);
    strbuf_puts(&r->body, "{\"error\":");
    strbuf_json_string(&r->body, msg);
    strbuf_puts(&r->body, "}\n");
}

static void order_reply_db_error(struct order_reply *r, const struct order_config *cfg,
                                 const struct order_db_error *e)
{
    enum order_kind kind = order_classify_errno(cfg, e->code);

    r->status = order_kind_status(kind);
    r->db_errno = e->code;
    r->retry_after = kind == ORDER_KIND_RETRYABLE;
    strbuf_reset(&r->body);
    strbuf_puts(&r->body, "{\"error\":");
    strbuf_json_string(&r->body, e->message);
    strbuf_printf(&r->body, ",\"errno\":%u,\"sqlstate\":", e->code);
    strbuf_json_string(&r->body, e->sqlstate);
    strbuf_printf(&r->body, ",\"kind\":\"%s\",\"unit\":", order_kind_name(kind));
    strbuf_json_string(&r->body, cfg->unit);
    strbuf_puts(&r->body, "}\n");
    log_warn("database error %u (%s): %s", e->code, order_kind_name(kind), e->message);
}

/* Queues r on c; r stays the caller's (its body is copied). */
static enum MHD_Result order_reply_send(struct MHD_Connection *c, const struct order_config *cfg,
                                        struct order_reply *r)
{
    const char *text = r->body.failed || r->body.buf == NULL ? "" : r->body.buf;
    struct MHD_Response *resp;
    char num[24];

    if (r->body.failed)
        r->status = MHD_HTTP_INTERNAL_SERVER_ERROR;
    resp = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL)
        return MHD_NO;
    MHD_add_response_header(resp, "Content-Type", "application/json");
    MHD_add_response_header(resp, "X-Order-Unit", cfg->unit);
    if (r->db_errno != 0) {
        snprintf(num, sizeof(num), "%u", r->db_errno);
        MHD_add_response_header(resp, "X-Db-Errno", num);
    }
    if (r->retry_after)
        MHD_add_response_header(resp, "Retry-After", "1");
    enum MHD_Result ret = MHD_queue_response(c, r->status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* ---- the per-thread database connection ----------------------------------- */

static void order_db_error_from(struct order_db_error *e, MYSQL *m)
{
    e->code = mysql_errno(m);
    snprintf(e->sqlstate, sizeof(e->sqlstate), "%s", mysql_sqlstate(m));
    snprintf(e->message, sizeof(e->message), "%s", mysql_error(m));
}

/* Key destructor: runs when a pool thread ends. */
static void order_conn_destroy(void *p)
{
    mysql_close(p);
    mysql_thread_end();
}

/* Drops this thread's connection (it is broken or unknown). */
static void order_conn_drop(void)
{
    MYSQL *m = pthread_getspecific(order_conn_key);

    if (m != NULL) {
        mysql_close(m);
        pthread_setspecific(order_conn_key, NULL);
    }
}

/*
 * This thread's connection, opened on first use. Returns a connection owned
 * by the thread (never free it: order_conn_drop), or NULL with e filled.
 */
static MYSQL *order_conn_get(const struct order_config *cfg, struct order_db_error *e)
{
    MYSQL *m = pthread_getspecific(order_conn_key);
    unsigned timeout = cfg->db_timeout_s;

    if (m != NULL)
        return m;
    m = mysql_init(NULL);
    if (m == NULL) {
        e->code = 2008;     /* CR_OUT_OF_MEMORY */
        snprintf(e->sqlstate, sizeof(e->sqlstate), "HY000");
        snprintf(e->message, sizeof(e->message), "out of memory");
        return NULL;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &timeout);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &timeout);
    if (mysql_real_connect(m, cfg->db_host, cfg->db_user, cfg->db_password, cfg->db_name,
                           cfg->db_port, NULL, 0) == NULL) {
        order_db_error_from(e, m);
        mysql_close(m);
        return NULL;
    }
    pthread_setspecific(order_conn_key, m);
    return m;
}

static bool order_errno_is_lost(unsigned code)
{
    return code == ORDER_CR_SERVER_GONE_ERROR || code == ORDER_CR_SERVER_LOST;
}

/*
 * Runs one statement on this thread's connection, reconnecting and retrying
 * once if the connection was lost. Returns the connection (its result, if
 * any, is pending for the caller) or NULL with e filled.
 */
static MYSQL *order_db_query(const struct order_config *cfg, const char *sql,
                             struct order_db_error *e)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        MYSQL *m = order_conn_get(cfg, e);
        if (m == NULL)
            return NULL;
        if (mysql_real_query(m, sql, strlen(sql)) == 0)
            return m;
        order_db_error_from(e, m);
        if (!order_errno_is_lost(e->code))
            return NULL;
        order_conn_drop();
    }
    return NULL;
}

/* ---- request parameters --------------------------------------------------- */

/* Parses a decimal in [min, max]; 0 if ok, -1 if missing or invalid. */
static int order_parse_number(const char *s, long long min, long long max, long long *out)
{
    char *end;

    if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
        return -1;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static const char *order_header(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *order_query_arg(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

/* ---- POST /orders --------------------------------------------------------- */

struct order_new {
    long long id;
    long long buyer;
    long long amount;
};

/* Reads the order from the request; -1 with a 400 reply on a bad one. */
static int order_read_new(struct MHD_Connection *c, struct order_new *o, struct order_reply *r)
{
    const char *amount = order_header(c, "X-Amount");

    if (order_parse_number(order_header(c, "X-Buyer-Id"), 0, INT64_MAX, &o->buyer) < 0) {
        order_reply_client_error(r, MHD_HTTP_BAD_REQUEST,
                                 "X-Buyer-Id missing or not a buyer id (0..2^63-1)");
        return -1;
    }
    if (order_parse_number(order_header(c, "X-Order-Id"), 1, INT64_MAX, &o->id) < 0) {
        order_reply_client_error(r, MHD_HTTP_BAD_REQUEST,
                                 "X-Order-Id missing or not an order id (1..2^63-1)");
        return -1;
    }
    if (amount == NULL)
        amount = order_query_arg(c, "amount");
    o->amount = 0;
    if (amount != NULL && order_parse_number(amount, 0, INT32_MAX, &o->amount) < 0) {
        order_reply_client_error(r, MHD_HTTP_BAD_REQUEST, "amount is not 0..2^31-1");
        return -1;
    }
    return 0;
}

static void order_reply_order(struct order_reply *r, const struct order_new *o,
                              const char *unit, bool duplicate)
{
    strbuf_reset(&r->body);
    strbuf_printf(&r->body, "{\"id\":%lld,\"buyerId\":%lld,\"unit\":", o->id, o->buyer);
    strbuf_json_string(&r->body, unit);
    strbuf_printf(&r->body, ",\"amount\":%lld,\"duplicate\":%s}\n", o->amount,
                  duplicate ? "true" : "false");
}

/*
 * The order id exists already: the same buyer's order is a retry of a write
 * that succeeded (200); another buyer's order under this id is a conflict.
 */
static void order_resolve_duplicate(const struct order_config *cfg, struct order_new *o,
                                    struct order_reply *r)
{
    struct order_db_error e;
    char sql[256], msg[160];

    snprintf(sql, sizeof(sql),
             "SELECT /* sharding_key=%lld */ buyer_id, unit, amount FROM orders WHERE id = %lld",
             o->buyer, o->id);
    MYSQL *m = order_db_query(cfg, sql, &e);
    if (m == NULL) {
        order_reply_db_error(r, cfg, &e);
        return;
    }
    MYSQL_RES *res = mysql_store_result(m);
    MYSQL_ROW row = res != NULL ? mysql_fetch_row(res) : NULL;
    if (row == NULL) {
        order_reply_client_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR,
                                 "duplicate order id, but the row cannot be read");
    } else if (strtoll(row[0], NULL, 10) != o->buyer) {
        snprintf(msg, sizeof(msg), "order id %lld belongs to buyer %s", o->id, row[0]);
        order_reply_client_error(r, MHD_HTTP_CONFLICT, msg);
    } else {
        o->amount = strtoll(row[2], NULL, 10);
        order_reply_order(r, o, row[1], true);
    }
    mysql_free_result(res);
}

static void order_handle_create(struct MHD_Connection *c, const struct order_config *cfg,
                                struct order_reply *r)
{
    struct order_new o;
    struct order_db_error e;
    char sql[320];

    if (order_read_new(c, &o, r) < 0)
        return;
    snprintf(sql, sizeof(sql),
             "INSERT /* sharding_key=%lld */ INTO orders (id, buyer_id, unit, amount) "
             "VALUES (%lld, %lld, '%s', %lld)",
             o.buyer, o.id, o.buyer, cfg->unit, o.amount);
    if (order_db_query(cfg, sql, &e) != NULL) {
        order_reply_order(r, &o, cfg->unit, false);
        return;
    }
    if (e.code == ORDER_ER_DUP_ENTRY) {
        order_resolve_duplicate(cfg, &o, r);
        return;
    }
    order_reply_db_error(r, cfg, &e);
}

/* ---- GET /orders ---------------------------------------------------------- */

static void order_append_rows(struct strbuf *b, MYSQL_RES *res)
{
    MYSQL_ROW row;
    bool first = true;

    while ((row = mysql_fetch_row(res)) != NULL) {
        strbuf_printf(b, "%s{\"id\":%s,\"buyerId\":%s,\"unit\":", first ? "" : ",",
                      row[0], row[1]);
        strbuf_json_string(b, row[2]);
        strbuf_printf(b, ",\"amount\":%s,\"created\":", row[3]);
        strbuf_json_string(b, row[4]);
        strbuf_puts(b, "}");
        first = false;
    }
}

static void order_handle_list(struct MHD_Connection *c, const struct order_config *cfg,
                              struct order_reply *r)
{
    const char *arg = order_query_arg(c, "buyerId");
    struct order_db_error e;
    long long buyer;
    char sql[320];

    if (arg == NULL)
        arg = order_header(c, "X-Buyer-Id");
    if (order_parse_number(arg, 0, INT64_MAX, &buyer) < 0) {
        order_reply_client_error(r, MHD_HTTP_BAD_REQUEST,
                                 "buyerId missing or not a buyer id (0..2^63-1)");
        return;
    }
    snprintf(sql, sizeof(sql),
             "SELECT /* sharding_key=%lld */ id, buyer_id, unit, amount, created FROM orders "
             "WHERE buyer_id = %lld ORDER BY created, id LIMIT %d",
             buyer, buyer, ORDER_LIST_LIMIT);
    MYSQL *m = order_db_query(cfg, sql, &e);
    MYSQL_RES *res = m != NULL ? mysql_store_result(m) : NULL;
    if (res == NULL) {
        if (m != NULL)
            order_db_error_from(&e, m);
        order_reply_db_error(r, cfg, &e);
        return;
    }
    strbuf_printf(&r->body, "{\"buyerId\":%lld,\"servedBy\":", buyer);
    strbuf_json_string(&r->body, cfg->unit);
    strbuf_puts(&r->body, ",\"orders\":[");
    order_append_rows(&r->body, res);
    strbuf_puts(&r->body, "]}\n");
    mysql_free_result(res);
}

/* ---- dispatch ------------------------------------------------------------- */

static void order_route(struct MHD_Connection *c, const struct order_config *cfg,
                        const char *url, const char *method, struct order_reply *r)
{
    bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

    if (strcmp(url, "/healthz") == 0) {
        strbuf_printf(&r->body, "{\"status\":\"ok\",\"unit\":\"%s\"}\n", cfg->unit);
        return;
    }
    if (strcmp(url, "/orders") != 0) {
        order_reply_client_error(r, MHD_HTTP_NOT_FOUND, "no such path (try /orders)");
        return;
    }
    if (strcmp(method, "POST") == 0)
        order_handle_create(c, cfg, r);
    else if (get)
        order_handle_list(c, cfg, r);
    else
        order_reply_client_error(r, MHD_HTTP_METHOD_NOT_ALLOWED, "use GET or POST on /orders");
}

/*
 * MHD calls this once when the headers are in, then once per body chunk, then
 * once more with no data: the body is not used and is discarded; the request
 * is served on the last call.
 */
static enum MHD_Result order_handler(void *cls, struct MHD_Connection *c, const char *url,
                                     const char *method, const char *version,
                                     const char *upload_data, size_t *upload_data_size,
                                     void **con_cls)
{
    const struct order_config *cfg = cls;
    struct order_reply r;

    (void)version;
    (void)upload_data;
    if (*con_cls == NULL) {
        *con_cls = &order_request_marker;
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    order_reply_init(&r);
    order_route(c, cfg, url, method, &r);
    enum MHD_Result ret = order_reply_send(c, cfg, &r);
    strbuf_deinit(&r.body);
    return ret;
}

/* ---- start-up ------------------------------------------------------------- */

static void order_usage(FILE *out)
{
    fprintf(out,
        "usage: order_service --listen HOST:PORT --unit NAME --db-host HOST --db-port PORT\n"
        "                     --db-user USER --db-password-file FILE [--db-name NAME]\n"
        "                     [--threads N] [--db-timeout SECONDS]\n"
        "                     [--retryable-errno N]... [--refusal-errno N]...\n"
        "                     [--log-level error|warn|info|debug] [--help]\n"
        "\n"
        "  POST /orders            headers X-Buyer-Id, X-Order-Id, optional X-Amount\n"
        "  GET  /orders?buyerId=N  the buyer's orders as JSON\n"
        "  GET  /healthz\n"
        "\n"
        "  --db-name defaults to unitroute, --threads to 8, --db-timeout to 10.\n"
        "  Database errors: retryable (1290, 1836, 1040, 1205, 1213 and every\n"
        "  --retryable-errno) -> 503 + Retry-After: 1; refusals (1044, 1142 and every\n"
        "  --refusal-errno) -> 409; connection failures (1045, 1053, 2002, 2003, 2005,\n"
        "  2006, 2013, 2026) -> 502; anything else -> 500. The body carries the\n"
        "  message and errno, the X-Db-Errno header the errno.\n");
}

/* Reads the first line of path into out; 0, or -1 with a message in err. */
static int order_read_password(const char *path, char *out, size_t outlen, char *err,
                               size_t errlen)
{
    FILE *f = fopen(path, "r");

    if (f == NULL) {
        snprintf(err, errlen, "cannot open password file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fgets(out, (int)outlen, f) == NULL)
        out[0] = '\0';
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return 0;
}

static int order_add_errno(unsigned *list, size_t *n, const char *arg)
{
    long long v;

    if (*n >= ORDER_ERRNO_LIST_MAX || order_parse_number(arg, 1, 65535, &v) < 0)
        return -1;
    list[(*n)++] = (unsigned)v;
    return 0;
}

static bool order_unit_valid(const char *unit)
{
    size_t n = strlen(unit);

    return n > 0 && n <= ORDER_UNIT_MAX &&
           strspn(unit, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") == n;
}

static int order_check_config(const struct order_config *cfg, const char *listen,
                              const char *password_file, char *err, size_t errlen)
{
    if (listen == NULL || cfg->unit[0] == '\0' || cfg->db_host[0] == '\0' ||
        cfg->db_port == 0 || cfg->db_user[0] == '\0' || password_file == NULL) {
        snprintf(err, errlen, "--listen, --unit, --db-host, --db-port, --db-user and "
                              "--db-password-file are required");
        return -1;
    }
    if (!order_unit_valid(cfg->unit)) {
        snprintf(err, errlen, "--unit must be 1..%d of [A-Za-z0-9_-]", ORDER_UNIT_MAX);
        return -1;
    }
    return 0;
}

/* 0 = run, 1 = --help printed, -1 = bad arguments (message in err). */
static int order_parse_args(int argc, char **argv, struct order_config *cfg, char *err,
                            size_t errlen)
{
    static const struct option opts[] = {
        { "listen", required_argument, NULL, 'l' },
        { "unit", required_argument, NULL, 'u' },
        { "db-host", required_argument, NULL, 'H' },
        { "db-port", required_argument, NULL, 'P' },
        { "db-user", required_argument, NULL, 'U' },
        { "db-password-file", required_argument, NULL, 'p' },
        { "db-name", required_argument, NULL, 'D' },
        { "threads", required_argument, NULL, 't' },
        { "db-timeout", required_argument, NULL, 'T' },
        { "retryable-errno", required_argument, NULL, 'r' },
        { "refusal-errno", required_argument, NULL, 'R' },
        { "log-level", required_argument, NULL, 'L' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *listen = NULL, *password_file = NULL;
    long long v;
    int ch, level;

    snprintf(cfg->db_name, sizeof(cfg->db_name), "unitroute");
    cfg->threads = 8;
    cfg->db_timeout_s = 10;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int bad = 0;
        switch (ch) {
        case 'l': listen = optarg; break;
        case 'u': snprintf(cfg->unit, sizeof(cfg->unit), "%s", optarg);
                  bad = strlen(optarg) >= sizeof(cfg->unit); break;
        case 'H': snprintf(cfg->db_host, sizeof(cfg->db_host), "%s", optarg); break;
        case 'P': bad = order_parse_number(optarg, 1, 65535, &v) < 0;
                  cfg->db_port = bad ? 0 : (unsigned)v; break;
        case 'U': snprintf(cfg->db_user, sizeof(cfg->db_user), "%s", optarg); break;
        case 'p': password_file = optarg; break;
        case 'D': snprintf(cfg->db_name, sizeof(cfg->db_name), "%s", optarg); break;
        case 't': bad = order_parse_number(optarg, 1, 256, &v) < 0;
                  cfg->threads = (unsigned)v; break;
        case 'T': bad = order_parse_number(optarg, 1, 3600, &v) < 0;
                  cfg->db_timeout_s = (unsigned)v; break;
        case 'r': bad = order_add_errno(cfg->retryable, &cfg->nretryable, optarg) < 0; break;
        case 'R': bad = order_add_errno(cfg->refusal, &cfg->nrefusal, optarg) < 0; break;
        case 'L': level = log_level_parse(optarg);
                  bad = level < 0;
                  if (!bad)
                      log_set_level((enum log_level)level);
                  break;
        case 'h': return 1;
        default:
            snprintf(err, errlen, "unknown option (see --help)");
            return -1;
        }
        if (bad) {
            for (size_t i = 0; opts[i].name != NULL; i++)
                if (opts[i].val == ch)
                    snprintf(err, errlen, "bad value for --%s: \"%s\"", opts[i].name, optarg);
            return -1;
        }
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument \"%s\"", argv[optind]);
        return -1;
    }
    if (order_check_config(cfg, listen, password_file, err, errlen) < 0)
        return -1;
    if (admin_http_parse_addr(listen, &cfg->listen) < 0) {
        snprintf(err, errlen, "--listen \"%s\" is not host:port", listen);
        return -1;
    }
    return order_read_password(password_file, cfg->db_password, sizeof(cfg->db_password),
                               err, errlen);
}

static void order_on_signal(int sig)
{
    (void)sig;
    order_stop = 1;
}

static struct MHD_Daemon *order_start_http(struct order_config *cfg)
{
    return MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
        order_handler, cfg,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&cfg->listen,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)1024,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned int)1,
        MHD_OPTION_END);
}

int main(int argc, char **argv)
{
    struct order_config cfg;
    struct MHD_Daemon *d;
    char err[512];
    int rc = 1;

    memset(&cfg, 0, sizeof(cfg));
    log_init("order_service", LOG_LEVEL_INFO);
    switch (order_parse_args(argc, argv, &cfg, err, sizeof(err))) {
    case 1:
        order_usage(stdout);
        return 0;
    case -1:
        fprintf(stderr, "order_service: %s\n", err);
        order_usage(stderr);
        return 2;
    }
    if (mysql_library_init(0, NULL, NULL) != 0) {
        log_error("mysql_library_init failed");
        return 1;
    }
    if (pthread_key_create(&order_conn_key, order_conn_destroy) != 0)
        goto out_library;
    signal(SIGTERM, order_on_signal);
    signal(SIGINT, order_on_signal);
    signal(SIGPIPE, SIG_IGN);
    d = order_start_http(&cfg);
    if (d == NULL) {
        log_error("cannot listen on port %u (in use?)", ntohs(cfg.listen.sin_port));
        goto out_key;
    }
    log_info("unit %s listening on port %u, database %s:%u/%s, %u threads", cfg.unit,
             ntohs(cfg.listen.sin_port), cfg.db_host, cfg.db_port, cfg.db_name, cfg.threads);
    while (!order_stop) {
        struct timespec ts = { 0, 100 * 1000 * 1000 };
        nanosleep(&ts, NULL);   /* a signal between test and sleep costs 0.1 s */
    }
    MHD_stop_daemon(d);
    log_info("stopped");
    rc = 0;
out_key:
    pthread_key_delete(order_conn_key);
out_library:
    mysql_library_end();
    return rc;
}
