/*
 * manual: an operator checks the target by whatever means and runs
 * `unitctl confirm-sync ID`; the control center sets c->confirmed. The ban
 * point is still read when the database is reachable, so the operator can be
 * shown what to look for.
 */
#include "sync.h"

#include <stdio.h>

static enum sync_status manual_preflight(const struct sync_config *cfg,
                                         const struct sync_ctx *c, char *err, size_t errlen)
{
    (void)cfg;
    (void)c;
    (void)err;
    (void)errlen;
    return SYNC_OK;
}

static enum sync_status manual_wait(const struct sync_config *cfg, const struct sync_ctx *c,
                                    const char *pos, long timeout_ms, char *err, size_t errlen)
{
    (void)cfg;
    (void)pos;
    for (long waited = 0; waited < timeout_ms; waited += 50) {
        if (c->confirmed != NULL && atomic_load(c->confirmed))
            return SYNC_OK;
        if (sync_sleep(c->stop, 50) == SYNC_ABORTED) {
            snprintf(err, errlen, "aborted while waiting for confirm-sync");
            return SYNC_ABORTED;
        }
    }
    if (c->confirmed != NULL && atomic_load(c->confirmed))
        return SYNC_OK;
    snprintf(err, errlen, "no confirm-sync %s within %ld ms", c->cutover_id, timeout_ms);
    return SYNC_TIMEOUT;
}

const struct sync_checker sync_checker_manual = {
    "manual", manual_preflight, sync_informative_ban_point, manual_wait,
};
