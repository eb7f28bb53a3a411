/*
 * rules_keeper: how a component accepts, persists and loads rule sets.
 *
 *   PUT body + signature
 *     -> verify HMAC (401)  -> parse + validate (400)
 *     -> compare versions: lower (409 stale), same + other bytes (409
 *        conflict), same + same bytes (200, idempotent, nothing written)
 *     -> persist: write temp, fsync, rename, fsync dir   (500 if it fails)
 *     -> rules_store_swap: every thread sees the new set
 *
 * Persisted file: one line "#unitroute-signature: <hex>\n", then the exact
 * signed bytes. The line is a libconfig comment, so the file is still valid
 * rule text; the signature makes a torn or edited file detectable.
 *
 * Accepts are serialized by a mutex; lookups go through k->store and never
 * touch it.
 */
#ifndef UR_RULES_KEEPER_H
#define UR_RULES_KEEPER_H

#include <limits.h>
#include <stdint.h>
#include <pthread.h>

#include "rules.h"
#include "rules_sign.h"
#include "rules_store.h"

#define RULES_KEEPER_SIG_PREFIX "#unitroute-signature: "

enum rules_accept_status {
    RULES_ACCEPT_APPLIED,       /* new version persisted and made current */
    RULES_ACCEPT_SAME,          /* same version and bytes: acknowledged again */
    RULES_ACCEPT_BAD_SIGNATURE,
    RULES_ACCEPT_INVALID,       /* does not parse or validate */
    RULES_ACCEPT_STALE,         /* version lower than the current one */
    RULES_ACCEPT_CONFLICT,      /* same version, different bytes */
    RULES_ACCEPT_IO_ERROR,      /* could not persist: nothing changed */
};

struct rules_keeper {
    struct rules_store  store;          /* the current set, for lookups */
    struct rules_secret secret;
    char                path[PATH_MAX]; /* persisted file; "" = memory only */
    const char         *unit_names[RULES_UNITS_MAX]; /* borrowed, outlive k */
    size_t              nunits;
    pthread_mutex_t     accept_lock;    /* one accept at a time */
};

/*
 * Loads the secret from secret_path. path may be NULL (no persistence, for
 * tests and the control center's dry runs). unit_names are borrowed.
 * Returns 0, or -1 with the reason in err.
 */
int rules_keeper_init(struct rules_keeper *k, const char *secret_path,
                      const char *path, const char *const *unit_names,
                      size_t nunits, char *err, size_t errlen);

void rules_keeper_deinit(struct rules_keeper *k);

/*
 * Load the persisted rule set, if any. Returns 1 if loaded, 0 if there is no
 * file, -1 if the file is torn, corrupt, badly signed or invalid (err says
 * which; nothing is loaded and the file is left for inspection).
 */
int rules_keeper_load(struct rules_keeper *k, char *err, size_t errlen);

/*
 * Accept a pushed rule document. sig_hex may be NULL (bad signature).
 * *version gets the version now current (also on SAME, STALE, CONFLICT).
 * err explains every status but APPLIED and SAME.
 */
enum rules_accept_status rules_keeper_accept(struct rules_keeper *k,
                                             const char *body, size_t len,
                                             const char *sig_hex,
                                             uint64_t *version,
                                             char *err, size_t errlen);

/* Short name of a status, for logs and JSON ("applied", "stale", ...). */
const char *rules_accept_status_name(enum rules_accept_status st);

/* HTTP status a push endpoint answers for st (200, 401, 400, 409, 500). */
int rules_accept_http_status(enum rules_accept_status st);

/* fsync the directory holding path (a new name in it is durable). 0 or -1 (err). */
int rules_fsync_dir(const char *path, char *err, size_t errlen);

/* write(2) all of data, retrying short writes and EINTR. 0, or -1 (errno). */
int rules_write_all(int fd, const void *data, size_t len);

/*
 * Write body to path atomically and durably: temp file in the same
 * directory, fsync, rename, fsync of the directory. Returns 0 or -1 (err).
 * Shared with the control center, which persists its own state the same way.
 */
int rules_write_file_durable(const char *path, const void *head, size_t head_len,
                             const void *body, size_t len, char *err, size_t errlen);

#endif
