/*
 * command: an external program decides when the target is in sync (the glue
 * to Otter, Canal, DTS...). It runs through /bin/sh -c with, in its
 * environment:
 *
 *   UNITROUTE_CUTOVER_ID     the cutover's id
 *   UNITROUTE_SELECTION      buckets:A-B or buyer:N
 *   UNITROUTE_SOURCE_UNIT    UNITROUTE_TARGET_UNIT
 *   UNITROUTE_BAN_TIME       unix time in ms of the last ban ack
 *   UNITROUTE_SOURCE_POS     the source's GTID position if it could be read, else ""
 *   UNITROUTE_TIMEOUT_MS     how long it may take
 *
 * Exit 0 = synced; any other exit = not synced (the cutover rolls back);
 * still running at the timeout = killed (its process group), timeout.
 */
#include "sync.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void command_child(const struct sync_ctx *c, const char *cmd, const char *pos,
                          long timeout_ms)
{
    char num[32];

    setpgid(0, 0);
    setenv("UNITROUTE_CUTOVER_ID", c->cutover_id ? c->cutover_id : "", 1);
    setenv("UNITROUTE_SELECTION", c->selection ? c->selection : "", 1);
    setenv("UNITROUTE_SOURCE_UNIT", c->source_unit ? c->source_unit : "", 1);
    setenv("UNITROUTE_TARGET_UNIT", c->target_unit ? c->target_unit : "", 1);
    snprintf(num, sizeof(num), "%" PRIu64, c->ban_time_ms);
    setenv("UNITROUTE_BAN_TIME", num, 1);
    setenv("UNITROUTE_SOURCE_POS", pos ? pos : "", 1);
    snprintf(num, sizeof(num), "%ld", timeout_ms);
    setenv("UNITROUTE_TIMEOUT_MS", num, 1);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
}

static enum sync_status command_wait(const struct sync_config *cfg, const struct sync_ctx *c,
                                     const char *pos, long timeout_ms, char *err,
                                     size_t errlen)
{
    int status;

    if (cfg->command[0] == '\0') {
        snprintf(err, errlen, "sync method command needs sync_command in the config");
        return SYNC_ERROR;
    }
    pid_t pid = fork();
    if (pid < 0) {
        snprintf(err, errlen, "fork: %s", strerror(errno));
        return SYNC_ERROR;
    }
    if (pid == 0)
        command_child(c, cfg->command, pos, timeout_ms);
    setpgid(pid, pid);
    for (long waited = 0;; waited += 50) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(err, errlen, "waitpid: %s", strerror(errno));
            return SYNC_ERROR;
        }
        int aborted = c->stop != NULL && atomic_load(c->stop);
        if (waited >= timeout_ms || aborted) {
            kill(-pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(err, errlen, "sync command %s after %ld ms",
                     aborted ? "aborted" : "still running", waited);
            return aborted ? SYNC_ABORTED : SYNC_TIMEOUT;
        }
        sync_sleep(NULL, 50);
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return SYNC_OK;
    if (WIFEXITED(status))
        snprintf(err, errlen, "sync command exited with status %d", WEXITSTATUS(status));
    else
        snprintf(err, errlen, "sync command killed by signal %d", WTERMSIG(status));
    return SYNC_ERROR;
}

static enum sync_status command_preflight(const struct sync_config *cfg,
                                          const struct sync_ctx *c, char *err, size_t errlen)
{
    (void)c;
    if (cfg->command[0] == '\0') {
        snprintf(err, errlen, "sync method command needs sync_command in the config");
        return SYNC_ERROR;
    }
    return SYNC_OK;
}

const struct sync_checker sync_checker_command = {
    "command", command_preflight, sync_informative_ban_point, command_wait,
};
