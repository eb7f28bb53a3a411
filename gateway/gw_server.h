/*
 * gw_server: the gateway's client-facing HTTP server (one libmicrohttpd
 * daemon per worker thread, gw_worker.h) that routes every request (route.h)
 * and serves it: answers it, parks it (gw_hold.h) or proxies it
 * (gw_upstream.h, on the same worker thread).
 */
#ifndef UR_GW_SERVER_H
#define UR_GW_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "gateway/gw_config.h"
#include "gateway/gw_metrics.h"
#include "router/rules_keeper.h"
#include "router/strbuf.h"

struct gw_server;

/*
 * Listen on cfg->listen and serve. cfg: the server takes one reference
 * (cfg->refs++) and drops it when replaced or at destroy. k is borrowed and
 * must outlive the server. NULL with err on failure.
 */
struct gw_server *gw_server_start(struct gw_config *cfg, struct rules_keeper *k,
                                  char *err, size_t errlen);

/*
 * Swap in a reloaded configuration (same unit, listeners and topology units:
 * the caller checks). Requests in flight keep the one they started with.
 * The server takes ownership of cfg.
 */
void gw_server_reload(struct gw_server *s, struct gw_config *cfg);

/* Stop accepting, answer parked writes, wait up to timeout_ms for requests. */
void gw_server_drain(struct gw_server *s, int timeout_ms);

/* Close every connection and free. NULL is a no-op. */
void gw_server_destroy(struct gw_server *s);

/* Admin listener hooks (struct admin_http_hooks); ctx is the server. */
int gw_server_after_accept(void *ctx, uint64_t version, char *err, size_t errlen);
void gw_server_status_json(void *ctx, struct strbuf *out);
void gw_server_metrics(void *ctx, struct strbuf *out);

#endif
