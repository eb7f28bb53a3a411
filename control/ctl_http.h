/*
 * ctl_http: the control center's HTTP listener (libmicrohttpd, one thread
 * per connection: the CLI long-polls cutover events).
 *
 *   GET  /                      status page (HTML, refreshes itself)
 *   GET  /metrics               Prometheus text
 *   GET  /healthz               "ok"
 *   --- below: header X-Unitroute-Token must hold the API token ---
 *   GET  /v1/status[?format=json]
 *   GET  /v1/rules              current document, X-Unitroute-Version
 *   POST /v1/rules              propose a document (version set by the center)
 *   POST /v1/cutover            body: key=value lines (buckets|buyer, to,
 *                               timeout_ms, force, dry_run); X-Unitroute-Cutover: ID
 *   GET  /v1/cutover/events?id=ID&after=N&wait_ms=M
 *                               text lines; X-Unitroute-Next, X-Unitroute-Outcome
 *   POST /v1/abort
 *   POST /v1/confirm-sync?id=ID
 *   GET  /v1/history
 *
 * Every /v1 answer carries X-Unitroute-Exit, the exit code the CLI returns.
 */
#ifndef UR_CTL_HTTP_H
#define UR_CTL_HTTP_H

#include <stddef.h>

#include "control/center.h"

#define CTL_TOKEN_HEADER "X-Unitroute-Token"

struct ctl_http;

/* Listen on c->cfg.listen. c is borrowed. NULL with err on failure. */
struct ctl_http *ctl_http_start(struct center *c, char *err, size_t errlen);

void ctl_http_stop(struct ctl_http *h);

#endif
