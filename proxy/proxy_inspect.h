/*
 * proxy_inspect: decisions on a connection's commands (see proxy_inspect.c)
 * and the per-connection state they keep. Called by proxy_session.c on the
 * connection's worker thread. Each inspect_* returns SQL_ALLOW (the
 * command's keys are recorded in the write set) or the refusal reason with
 * the client's message in msg.
 */
#ifndef UR_PROXY_INSPECT_H
#define UR_PROXY_INSPECT_H

#include "proxy/proxy.h"

struct sql_charset;

/*
 * The SQL_MODE_* bits for reading text in client character set cs (NULL:
 * known to be safe but not which: every high byte that is whitespace in
 * some set is ambiguous).
 */
unsigned inspect_charset_mode(const struct sql_charset *cs);

/*
 * The character set a handshake or COM_CHANGE_USER names by collation id:
 * on 0, *mode is set; else the refusal reason with msg set. An id the
 * server does not know gets the server's default (c->cs_default), as the
 * server does.
 */
enum sql_reason inspect_client_charset(struct proxy_conn *c, unsigned id, unsigned *mode,
                                       char *msg, size_t msglen);

/*
 * COM_QUERY text (all its statements). When allowed, its USE and character
 * set changes wait in c->pend for the response (inspect_response_end).
 */
enum sql_reason inspect_query(struct proxy_conn *c, const char *sql, size_t len,
                              char *msg, size_t msglen);

/* COM_INIT_DB (or the EXECUTE of a prepared USE): the schema once it succeeds. */
void inspect_init_db(struct proxy_conn *c, const uint8_t *name, size_t len);

/*
 * The response of the command in flight ended (c->resp_results statement
 * results, then an ERR if c->resp_err): apply the schema and character set
 * changes of the statements that completed. If that cannot be told, the
 * schema becomes unknown (c->db_unknown) and the character set stays read
 * as ambiguous.
 */
void inspect_response_end(struct proxy_conn *c);

/* COM_STMT_PREPARE text; on SQL_ALLOW c->prep_pending holds the classification. */
enum sql_reason inspect_prepare(struct proxy_conn *c, const char *sql, size_t len,
                                char *msg, size_t msglen);

/* COM_STMT_EXECUTE payload (command byte included). */
enum sql_reason inspect_execute(struct proxy_conn *c, const uint8_t *p, size_t len,
                                char *msg, size_t msglen);

/* Prepared statement id (0xffffffff = the last prepared), or NULL. */
struct proxy_stmt *inspect_stmt_find(struct proxy_conn *c, uint32_t id);

/* Take ownership of st as statement id. 0, or -1 (st freed). */
int inspect_stmt_add(struct proxy_conn *c, uint32_t id, uint16_t nparams, struct sql_stmt *st);

void inspect_stmt_remove(struct proxy_conn *c, uint32_t id);

/* Forget every prepared statement (COM_CHANGE_USER, COM_RESET_CONNECTION). */
void inspect_stmts_clear(struct proxy_conn *c);

/* Free the connection's prepared statements and write set. */
void inspect_release(struct proxy_conn *c);

/* Does c hold a write to a bucket banned in r? (caller holds w->lock) */
bool inspect_blocks_ban(const struct proxy_conn *c, const struct rules *r);

#endif
