/*
 * proxy_session: the MySQL protocol state machine of one proxied connection.
 *
 *   backend greeting --mask COMPRESS/SSL/MariaDB caps--> client
 *   client handshake response --mask, note caps + db--> backend
 *   auth packets relayed both ways until the backend's OK (-> COMMAND) or ERR
 *
 *   COMMAND phase, one command at a time (pipelined ones wait in cin):
 *     client command (whole, <= max_statement_bytes)
 *        inspect: COM_QUERY statements / PREPARE / EXECUTE parameters
 *        refused -> ERR to the client, nothing to the backend
 *        allowed -> record its keys in the write set, forward
 *     backend response, streamed packet by packet (only each packet's first
 *     bytes are looked at):
 *        FIRST -> OK | ERR | LOCAL INFILE | column count
 *        column count -> COLDEFS -> [EOF] -> ROWS -> EOF/OK (more results?)
 *        PREPARE OK -> SKIP param and column definitions
 *     the packet that ends the response: status flags -> in transaction?
 *        not in a transaction -> the write set is empty again
 *
 * The decisions themselves, the prepared-statement table and the write set
 * are proxy_inspect.c's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proxy/mysql_packet.h"
#include "proxy/proxy.h"
#include "proxy/proxy_inspect.h"
#include "proxy/sql_charset.h"

#define PREFIX_MAX 40   /* enough of any packet to classify it */

static int session_process_client(struct proxy_conn *c);

/* ---- helpers ------------------------------------------------------------- */

static uint64_t get_le(const uint8_t *p, int n)
{
    uint64_t v = 0;

    for (int i = n - 1; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

void session_send_error(struct proxy_conn *c, uint8_t seq, uint16_t code,
                        const char *sqlstate, const char *msg)
{
    uint8_t pkt[1024];
    size_t n = mysql_err_build(pkt, sizeof(pkt), seq, code, sqlstate, msg);

    if (n == 0 || pbuf_append(&c->bin, pkt, n) != 0)
        return;
    c->bready = pbuf_len(&c->bin);
}

static void session_refuse(struct proxy_conn *c, uint8_t seq, enum sql_reason why,
                           const char *msg)
{
    const struct sql_reason_info *info = sql_reason_info(why);

    atomic_fetch_add(&c->w->px->m.refusals[why], 1);
    session_send_error(c, seq, info->code, info->sqlstate, msg);
}

/* ---- commands ---------------------------------------------------------------- */

/* Forward the command's wire bytes (at cin.start) and expect resp. */
static int session_forward(struct proxy_conn *c, size_t wire, enum proxy_resp resp)
{
    if (pbuf_append(&c->bout, c->cin.data + c->cin.start, wire) != 0)
        return -1;
    pbuf_consume(&c->cin, wire);
    c->resp = resp;
    c->rcount = 0;
    c->resp_err = false;
    c->resp_results = 0;
    return 0;
}

/* Refuse the command at cin.start (wire bytes, last sequence id seq). */
static void session_drop(struct proxy_conn *c, size_t wire, uint8_t seq,
                         enum sql_reason why, const char *msg)
{
    pbuf_consume(&c->cin, wire);
    session_refuse(c, (uint8_t)(seq + 1), why, msg);
}

/*
 * COM_CHANGE_USER: the session starts over (statements, schema, character
 * set: the packet's collation id after the schema, if any; without one the
 * server's default, which the proxy reads as unsure). Returns SQL_ALLOW, or
 * the refusal (nothing changed) for a character set the proxy cannot read.
 */
static enum sql_reason session_change_user(struct proxy_conn *c, const uint8_t *p,
                                           size_t len, char *msg, size_t msglen)
{
    const uint8_t *nul = memchr(p + 1, 0, len > 1 ? len - 1 : 0);
    char db[SQL_NAME_MAX] = "";
    bool unknown = false;
    unsigned mode = inspect_charset_mode(NULL), id = 0;
    size_t i = nul ? (size_t)(nul - p) + 1 : len;

    if (i < len && (c->caps & MYSQL_CLIENT_SECURE_CONNECTION))
        i += 1 + (size_t)p[i];
    if (i < len) {
        const uint8_t *end = memchr(p + i, 0, len - i);
        size_t n = end ? (size_t)(end - (p + i)) : len - i;
        if (n < sizeof(db)) {
            memcpy(db, p + i, n);
            db[n] = '\0';
        } else {
            unknown = true;             /* a name the proxy cannot hold */
        }
        i = end ? (size_t)(end - p) + 1 : len;
    }
    if (i + 2 <= len) {
        id = (unsigned)get_le(p + i, 2);
        enum sql_reason why = inspect_client_charset(c, id, &mode, msg, msglen);
        if (why != SQL_ALLOW)
            return why;
    }
    inspect_stmts_clear(c);
    memcpy(c->db, db, sizeof(c->db));
    c->db_unknown = unknown;            /* on failure the server closes the connection */
    c->cs_mode = c->cs_mode_hs = mode;
    c->pend.active = false;
    return SQL_ALLOW;
}

/* One whole command at cin.start: inspect, then forward or refuse. */
static int session_command(struct proxy_conn *c, const uint8_t *p, size_t len,
                           size_t wire, uint8_t seq)
{
    char msg[768];
    enum sql_reason why = SQL_ALLOW;
    uint32_t id;

    msg[0] = '\0';
    if (len == 0) {
        session_drop(c, wire, seq, SQL_REFUSE_MALFORMED, "unitproxy: empty command packet");
        return 0;
    }
    c->cmd = p[0];
    switch (p[0]) {
    case MYSQL_COM_QUIT:               /* pass it on (a clean close), then close */
        if (session_forward(c, wire, PROXY_RESP_NONE) != 0)
            return -1;
        c->phase = PROXY_PHASE_CLOSING;
        return 0;
    case MYSQL_COM_QUERY:
        why = inspect_query(c, (const char *)p + 1, len - 1, msg, sizeof(msg));
        return why ? (session_drop(c, wire, seq, why, msg), 0)
                   : session_forward(c, wire, PROXY_RESP_FIRST);
    case MYSQL_COM_STMT_PREPARE:
        why = inspect_prepare(c, (const char *)p + 1, len - 1, msg, sizeof(msg));
        return why ? (session_drop(c, wire, seq, why, msg), 0)
                   : session_forward(c, wire, PROXY_RESP_PREPARE);
    case MYSQL_COM_STMT_EXECUTE:
        why = inspect_execute(c, p, len, msg, sizeof(msg));
        return why ? (session_drop(c, wire, seq, why, msg), 0)
                   : session_forward(c, wire, PROXY_RESP_FIRST);
    case MYSQL_COM_STMT_CLOSE:
        if (mysql_stmt_id(p, len, &id) == 0)
            inspect_stmt_remove(c, id);
        return session_forward(c, wire, PROXY_RESP_NONE);
    case MYSQL_COM_STMT_SEND_LONG_DATA:
        if (len >= 7 && mysql_stmt_id(p, len, &id) == 0) {
            struct proxy_stmt *s = inspect_stmt_find(c, id);
            uint16_t param = (uint16_t)get_le(p + 5, 2);
            if (s && param < s->nparams)
                s->long_data[param / 8] |= (uint8_t)(1u << (param % 8));
        }
        return session_forward(c, wire, PROXY_RESP_NONE);
    case MYSQL_COM_STMT_RESET:
        if (mysql_stmt_id(p, len, &id) == 0) {
            struct proxy_stmt *s = inspect_stmt_find(c, id);
            if (s)
                memset(s->long_data, 0, (s->nparams + 7u) / 8 + 1);
        }
        return session_forward(c, wire, PROXY_RESP_FIRST);
    case MYSQL_COM_STMT_FETCH:
    case MYSQL_COM_FIELD_LIST:
        return session_forward(c, wire, PROXY_RESP_ROWS);
    case MYSQL_COM_INIT_DB:              /* the schema changes once it succeeds */
        inspect_init_db(c, p + 1, len - 1);
        return session_forward(c, wire, PROXY_RESP_FIRST);
    case MYSQL_COM_STATISTICS:
        return session_forward(c, wire, PROXY_RESP_ONE);
    case MYSQL_COM_CHANGE_USER:
        why = session_change_user(c, p, len, msg, sizeof(msg));
        if (why != SQL_ALLOW) {
            session_drop(c, wire, seq, why, msg);
            return 0;
        }
        c->client_raw = true;
        c->cskip = 0;
        c->ccont = false;
        return session_forward(c, wire, PROXY_RESP_AUTH);
    case MYSQL_COM_RESET_CONNECTION:
        inspect_stmts_clear(c);
        c->cs_mode = c->cs_mode_hs;     /* measured: back to the handshake's set */
        c->pend.active = false;         /* measured: the schema stays (MariaDB 10.11) */
        return session_forward(c, wire, PROXY_RESP_FIRST);
    case MYSQL_COM_PING: case MYSQL_COM_PROCESS_INFO: case MYSQL_COM_PROCESS_KILL:
    case MYSQL_COM_REFRESH: case MYSQL_COM_DEBUG: case MYSQL_COM_SET_OPTION:
    case MYSQL_COM_CREATE_DB: case MYSQL_COM_DROP_DB: case MYSQL_COM_SHUTDOWN:
        return session_forward(c, wire, PROXY_RESP_FIRST);
    default:
        snprintf(msg, sizeof(msg), "unitproxy unsupported: command 0x%02x is not "
                 "relayed by the proxy (replication, bulk execute and legacy commands "
                 "go to the database directly)", p[0]);
        session_drop(c, wire, seq, SQL_REFUSE_UNSUPPORTED, msg);
        return 0;
    }
}

/* ---- client side ------------------------------------------------------------ */

/* A raw client packet ended: a dropped too-large command gets its ERR. */
static void session_client_packet_end(struct proxy_conn *c)
{
    char msg[256];

    if (!c->discard || c->ccont)
        return;
    c->discard = false;
    snprintf(msg, sizeof(msg), "unitproxy too_large: a command larger than "
             "max_statement_bytes (%lld) is not inspected; it was dropped",
             (long long)c->w->px->cfg.max_statement_bytes);
    session_refuse(c, (uint8_t)(c->discard_seq + 1), SQL_REFUSE_TOO_LARGE, msg);
}

/*
 * Raw client streaming (auth exchange, LOCAL INFILE data, dropping a too
 * large command): pass or drop packets as they come, tracking boundaries.
 */
static int session_client_raw(struct proxy_conn *c)
{
    while (pbuf_len(&c->cin) > 0 && (c->client_raw || c->discard)) {
        if (c->cskip > 0) {
            size_t n = pbuf_len(&c->cin) < c->cskip ? pbuf_len(&c->cin) : c->cskip;
            if (!c->discard && pbuf_append(&c->bout, c->cin.data + c->cin.start, n) != 0)
                return -1;
            pbuf_consume(&c->cin, n);
            c->cskip -= (uint32_t)n;
            if (c->cskip == 0)
                session_client_packet_end(c);
            continue;
        }
        struct mysql_header h;
        if (mysql_header_decode(c->cin.data + c->cin.start, pbuf_len(&c->cin), &h) != 0)
            break;
        bool continues = c->ccont;
        c->discard_seq = h.seq;
        c->ccont = h.len == MYSQL_PAYLOAD_MAX;
        c->cskip = h.len;
        if (!c->discard && pbuf_append(&c->bout, c->cin.data + c->cin.start, 4) != 0)
            return -1;
        pbuf_consume(&c->cin, 4);
        if (c->resp == PROXY_RESP_INFILE && h.len == 0 && !continues) {
            c->client_raw = false;      /* end of the file: the server answers */
            break;
        }
        if (h.len == 0)
            session_client_packet_end(c);
    }
    return 0;
}

/* AUTH phase: the client's first packet (handshake response) is masked. */
static int session_client_auth(struct proxy_conn *c)
{
    size_t wire, len;
    struct mysql_auth_response a;
    int rc = mysql_packet_complete(c->cin.data + c->cin.start, pbuf_len(&c->cin),
                                   &wire, &len);

    if (rc <= 0)
        return rc < 0 ? -1 : 0;
    uint8_t *p = c->cin.data + c->cin.start + MYSQL_HEADER_LEN;
    uint8_t seq = c->cin.data[c->cin.start + 3];
    if (wire != len + MYSQL_HEADER_LEN || mysql_auth_response_parse(p, len, &a) != 0) {
        session_send_error(c, (uint8_t)(seq + 1), sql_reason_info(SQL_REFUSE_MALFORMED)->code,
                           "08S01", "unitproxy: malformed handshake response");
        c->phase = PROXY_PHASE_CLOSING;
        return 0;
    }
    if (a.ssl_request) {
        session_send_error(c, (uint8_t)(seq + 1), sql_reason_info(SQL_REFUSE_UNSUPPORTED)->code,
                           "08004", "unitproxy: TLS is not supported by the proxy; "
                           "connect without TLS (mariadb --skip-ssl, ssl-mode=DISABLED)");
        c->phase = PROXY_PHASE_CLOSING;
        return 0;
    }
    char msg[512];
    if (inspect_client_charset(c, a.charset, &c->cs_mode, msg, sizeof(msg)) != SQL_ALLOW) {
        atomic_fetch_add(&c->w->px->m.refusals[SQL_REFUSE_CHARSET], 1);
        session_send_error(c, (uint8_t)(seq + 1), sql_reason_info(SQL_REFUSE_CHARSET)->code,
                           sql_reason_info(SQL_REFUSE_CHARSET)->sqlstate, msg);
        c->phase = PROXY_PHASE_CLOSING;
        return 0;
    }
    c->cs_mode_hs = c->cs_mode;
    mysql_auth_response_mask(p, len);
    c->caps = (a.caps & ~MYSQL_CAPS_MASKED) & c->server_caps;
    c->deprecate_eof = (c->caps & MYSQL_CLIENT_DEPRECATE_EOF) != 0;
    if (a.database && a.database_len < sizeof(c->db)) {
        memcpy(c->db, a.database, a.database_len);
        c->db[a.database_len] = '\0';
    } else if (a.database) {
        c->db_unknown = true;           /* a name the proxy cannot hold */
    }
    if (pbuf_append(&c->bout, c->cin.data + c->cin.start, wire) != 0)
        return -1;
    pbuf_consume(&c->cin, wire);
    c->auth_first = false;
    c->client_raw = true;               /* auth switch / more data: as is */
    c->cskip = 0;
    c->ccont = false;
    return 0;
}

/* COMMAND phase, no response outstanding: take whole commands from cin. */
static int session_client_commands(struct proxy_conn *c)
{
    int64_t max = c->w->px->cfg.max_statement_bytes;

    while (c->resp == PROXY_RESP_NONE && !c->client_raw && !c->discard &&
           c->phase == PROXY_PHASE_COMMAND && pbuf_len(&c->cin) >= MYSQL_HEADER_LEN) {
        size_t wire, len;
        const uint8_t *at = c->cin.data + c->cin.start;
        int rc = mysql_packet_complete(at, pbuf_len(&c->cin), &wire, &len);
        if (rc < 0) {
            session_send_error(c, 2, sql_reason_info(SQL_REFUSE_MALFORMED)->code,
                               sql_reason_info(SQL_REFUSE_MALFORMED)->sqlstate,
                               "unitproxy malformed: packet sequence broken");
            c->phase = PROXY_PHASE_CLOSING;
            return 0;
        }
        if (rc == 0) {
            struct mysql_header h;
            mysql_header_decode(at, 4, &h);
            if ((int64_t)pbuf_len(&c->cin) > max || (int64_t)h.len > max) {
                c->discard = true;      /* drop it as it streams in */
                c->cskip = 0;
                c->ccont = false;
                if (session_client_raw(c) != 0)
                    return -1;
                continue;
            }
            return 0;
        }
        if ((int64_t)len > max) {
            c->discard = true;
            c->cskip = 0;
            c->ccont = false;
            if (session_client_raw(c) != 0)
                return -1;
            continue;
        }
        uint8_t seq, *joined = NULL;
        const uint8_t *payload = at + MYSQL_HEADER_LEN;
        if (wire != len + MYSQL_HEADER_LEN) {
            joined = malloc(len ? len : 1);
            if (joined == NULL)
                return -1;
            seq = mysql_packet_join(at, wire, joined);
            payload = joined;
        } else {
            seq = at[3];
        }
        rc = session_command(c, payload, len, wire, seq);
        free(joined);
        if (rc != 0)
            return rc;
    }
    return 0;
}

static int session_process_client(struct proxy_conn *c)
{
    if (c->phase == PROXY_PHASE_CLOSING) {
        pbuf_consume(&c->cin, pbuf_len(&c->cin));
        return 0;
    }
    if (c->phase == PROXY_PHASE_CONNECTING || c->phase == PROXY_PHASE_GREETING)
        return 0;
    if (c->phase == PROXY_PHASE_AUTH && c->auth_first)
        if (session_client_auth(c) != 0)
            return -1;
    if (c->client_raw || c->discard)
        if (session_client_raw(c) != 0)
            return -1;
    if (c->phase == PROXY_PHASE_COMMAND)
        return session_client_commands(c);
    return 0;
}

int session_on_client_data(struct proxy_conn *c)
{
    return session_process_client(c);
}

/* ---- backend side ------------------------------------------------------------ */

static void session_set_status(struct proxy_conn *c, uint16_t status)
{
    struct proxy *px = c->w->px;
    bool in = (status & MYSQL_STATUS_IN_TRANS) != 0;

    c->status = status;
    if (in != c->counted_trans) {
        atomic_fetch_add(&px->m.transactions, in ? 1 : -1);
        c->counted_trans = in;
    }
}

/* The response is complete: transaction state, then the next command. */
static int session_response_done(struct proxy_conn *c)
{
    inspect_response_end(c);            /* USE / SET NAMES of completed statements */
    c->resp_err = false;
    c->resp_results = 0;
    c->resp = PROXY_RESP_NONE;
    c->client_raw = false;
    if (!(c->status & MYSQL_STATUS_IN_TRANS) && c->nwkeys > 0) {
        pthread_mutex_lock(&c->w->lock);
        c->nwkeys = 0;                  /* committed or rolled back */
        pthread_mutex_unlock(&c->w->lock);
    }
    return session_process_client(c);
}

/* OK or EOF packet status; *more set if more results follow. */
static void session_terminator(struct proxy_conn *c, const uint8_t *p, size_t avail,
                               bool *more)
{
    struct mysql_ok ok;
    uint16_t warnings, status;

    *more = false;
    if (p[0] == 0xfe && !c->deprecate_eof) {
        if (mysql_eof_parse(p, avail, &warnings, &status) == 0) {
            session_set_status(c, status);
            *more = (status & MYSQL_STATUS_MORE_RESULTS) != 0;
        }
    } else if (mysql_ok_parse(p, avail, &ok) == 0) {
        session_set_status(c, ok.status);
        *more = (ok.status & MYSQL_STATUS_MORE_RESULTS) != 0;
    }
}

static int session_resp_first(struct proxy_conn *c, const uint8_t *p, size_t len,
                              size_t avail)
{
    bool more;
    size_t pos = 0;
    uint64_t n;

    switch (mysql_response_kind(p[0], len, c->deprecate_eof)) {
    case MYSQL_RESP_OK:
    case MYSQL_RESP_EOF:
        c->resp_results++;              /* a statement completed */
        session_terminator(c, p, avail, &more);
        if (!more)
            c->done_pending = true;
        return 0;
    case MYSQL_RESP_ERR:
        c->resp_err = true;
        c->done_pending = true;
        return 0;
    case MYSQL_RESP_LOCAL_INFILE:
        c->resp = PROXY_RESP_INFILE;
        c->client_raw = true;
        c->cskip = 0;
        c->ccont = false;
        return 0;
    case MYSQL_RESP_DATA:
        if (mysql_lenenc_int_read(p, avail, &pos, &n, NULL) != 0 || n == 0)
            return -1;
        c->resp = PROXY_RESP_COLDEFS;
        c->rcount = n;
        return 0;
    }
    return -1;
}

static int session_resp_packet(struct proxy_conn *c, const uint8_t *p, size_t len,
                               size_t avail)
{
    bool more;

    if (len == 0)
        return c->resp == PROXY_RESP_NONE ? 0 : -1;
    switch (c->resp) {
    case PROXY_RESP_NONE:
        return 0;                       /* unsolicited (an ERR before a close) */
    case PROXY_RESP_INFILE:
        c->resp = PROXY_RESP_FIRST;
        c->client_raw = false;
        return session_resp_first(c, p, len, avail);
    case PROXY_RESP_FIRST:
        return session_resp_first(c, p, len, avail);
    case PROXY_RESP_COLDEFS:
        if (p[0] == 0xff) {
            c->resp_err = true;
            c->done_pending = true;
        } else if (--c->rcount == 0) {
            c->resp = c->deprecate_eof ? PROXY_RESP_ROWS : PROXY_RESP_COLDEFS_EOF;
        }
        return 0;
    case PROXY_RESP_COLDEFS_EOF:
        if (p[0] != 0xfe) {
            c->resp_err = true;
            c->done_pending = true;     /* an ERR */
            return p[0] == 0xff ? 0 : -1;
        }
        session_terminator(c, p, avail, &more);
        if (c->cmd == MYSQL_COM_STMT_EXECUTE && (c->status & MYSQL_STATUS_CURSOR_EXISTS))
            c->done_pending = true;     /* rows come with COM_STMT_FETCH */
        else
            c->resp = PROXY_RESP_ROWS;
        return 0;
    case PROXY_RESP_ROWS:
        if (p[0] == 0xff) {
            c->resp_err = true;
            c->done_pending = true;
        } else if (p[0] == 0xfe && (c->deprecate_eof ? len < MYSQL_PAYLOAD_MAX : len < 9)) {
            c->resp_results++;          /* a result set completed */
            session_terminator(c, p, avail, &more);
            if (more && c->cmd != MYSQL_COM_FIELD_LIST && c->cmd != MYSQL_COM_STMT_FETCH)
                c->resp = PROXY_RESP_FIRST;
            else
                c->done_pending = true;
        }
        return 0;
    case PROXY_RESP_PREPARE: {
        struct mysql_prepare_ok ok;
        if (p[0] == 0xff || mysql_prepare_ok_parse(p, avail, &ok) != 0) {
            if (c->prep_pending) {
                sql_stmt_deinit(c->prep_pending);
                free(c->prep_pending);
                c->prep_pending = NULL;
            }
            c->done_pending = true;
            return p[0] == 0xff ? 0 : -1;
        }
        if (c->prep_pending && inspect_stmt_add(c, ok.stmt_id, ok.params, c->prep_pending) != 0) {
            c->prep_pending = NULL;
            return -1;
        }
        c->last_stmt_id = ok.stmt_id;
        c->prep_pending = NULL;
        c->rcount = (uint64_t)ok.params + ok.columns;
        if (!c->deprecate_eof)
            c->rcount += (ok.params > 0) + (ok.columns > 0);
        if (c->rcount == 0)
            c->done_pending = true;
        else
            c->resp = PROXY_RESP_SKIP;
        return 0;
    }
    case PROXY_RESP_SKIP:
        if (--c->rcount == 0)
            c->done_pending = true;
        return 0;
    case PROXY_RESP_ONE:
        c->done_pending = true;
        return 0;
    case PROXY_RESP_AUTH:
        if (p[0] == 0x00) {
            struct mysql_ok ok;
            if (mysql_ok_parse(p, avail, &ok) == 0)
                session_set_status(c, ok.status);
            c->done_pending = true;
        } else if (p[0] == 0xff) {
            c->close_pending = true;
        }
        return 0;
    }
    return -1;
}

/* The first bytes of a backend packet, by phase. */
static int session_backend_packet(struct proxy_conn *c, uint8_t *p, size_t len,
                                  size_t avail)
{
    struct mysql_greeting g;
    struct mysql_ok ok;

    switch (c->phase) {
    case PROXY_PHASE_GREETING:
        if (len > 0 && p[0] == 0xff) {  /* the server refuses us */
            c->close_pending = true;
            return 0;
        }
        if (avail != len || mysql_greeting_mask(p, len) != 0 ||
            mysql_greeting_parse(p, len, &g) != 0)
            return -1;
        c->server_caps = g.caps;
        c->server_version = mysql_mariadb_version(g.server_version);
        const struct sql_charset *def = sql_charset_by_collation(g.charset);
        c->cs_default = def && !def->unsafe ? inspect_charset_mode(def) : 0;
        c->phase = PROXY_PHASE_AUTH;
        c->auth_first = true;
        return 0;
    case PROXY_PHASE_AUTH:
        if (len > 0 && p[0] == 0x00 && mysql_ok_parse(p, avail, &ok) == 0) {
            session_set_status(c, ok.status);
            c->phase = PROXY_PHASE_COMMAND;
            c->client_raw = false;
            c->resp = PROXY_RESP_NONE;
            c->done_pending = true;     /* then take queued commands */
        } else if (len > 0 && p[0] == 0xff) {
            c->close_pending = true;
        }
        return 0;
    case PROXY_PHASE_COMMAND:
        return session_resp_packet(c, p, len, avail);
    default:
        return 0;
    }
}

int session_on_backend_data(struct proxy_conn *c)
{
    struct pbuf *b = &c->bin;

    while (c->bready < pbuf_len(b)) {
        uint8_t *at = b->data + b->start + c->bready;
        size_t avail = pbuf_len(b) - c->bready;
        if (c->bskip > 0) {
            size_t n = avail < c->bskip ? avail : c->bskip;
            c->bready += n;
            c->bskip -= (uint32_t)n;
        } else {
            struct mysql_header h;
            if (mysql_header_decode(at, avail, &h) != 0)
                break;
            if (c->bcont) {             /* continuation of a long packet */
                c->bcont = h.len == MYSQL_PAYLOAD_MAX;
                c->bready += MYSQL_HEADER_LEN;
                c->bskip = h.len;
            } else {
                size_t need = h.len < PREFIX_MAX ? h.len : PREFIX_MAX;
                if (c->phase == PROXY_PHASE_GREETING) {
                    if (h.len > 4096)
                        return -1;
                    need = h.len;
                }
                if (avail < MYSQL_HEADER_LEN + need)
                    break;
                if (session_backend_packet(c, at + MYSQL_HEADER_LEN, h.len, need) != 0)
                    return -1;
                c->bcont = h.len == MYSQL_PAYLOAD_MAX;
                c->bready += MYSQL_HEADER_LEN;
                c->bskip = h.len;
            }
        }
        if (c->bskip == 0 && !c->bcont) {
            if (c->close_pending) {
                c->phase = PROXY_PHASE_CLOSING;
                return 0;
            }
            if (c->done_pending) {
                c->done_pending = false;
                if (session_response_done(c) != 0)
                    return -1;
            }
        }
    }
    /* a greeting lets queued client bytes (none, normally) through */
    if (c->phase == PROXY_PHASE_AUTH && c->auth_first && pbuf_len(&c->cin) > 0)
        return session_process_client(c);
    return 0;
}

void session_start(struct proxy_conn *c)
{
    c->phase = PROXY_PHASE_GREETING;
}
