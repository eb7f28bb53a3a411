#include "rules_keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int rules_keeper_init(struct rules_keeper *k, const char *secret_path,
                      const char *path, const char *const *unit_names,
                      size_t nunits, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    if (nunits == 0 || nunits > RULES_UNITS_MAX) {
        snprintf(err, errlen, "%zu units: need 1 to %d", nunits, RULES_UNITS_MAX);
        return -1;
    }
    if (path != NULL && strlen(path) >= sizeof(k->path) - 32) {
        snprintf(err, errlen, "rules path too long: %s", path);
        return -1;
    }
    if (rules_secret_load(&k->secret, secret_path, err, errlen) < 0)
        return -1;
    if (path != NULL)
        snprintf(k->path, sizeof(k->path), "%s", path);
    for (size_t i = 0; i < nunits; i++)
        k->unit_names[i] = unit_names[i];
    k->nunits = nunits;
    rules_store_init(&k->store);
    pthread_mutex_init(&k->accept_lock, NULL);
    return 0;
}

void rules_keeper_deinit(struct rules_keeper *k)
{
    rules_store_deinit(&k->store);
    rules_secret_clear(&k->secret);
    pthread_mutex_destroy(&k->accept_lock);
}

int rules_fsync_dir(const char *path, char *err, size_t errlen)
{
    char copy[PATH_MAX];

    snprintf(copy, sizeof(copy), "%s", path);
    const char *dir = dirname(copy);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) < 0) {
        snprintf(err, errlen, "fsync of directory %s: %s", dir, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return 0;
}

int rules_write_all(int fd, const void *data, size_t len)
{
    const char *p = data;

    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int rules_write_file_durable(const char *path, const void *head, size_t head_len,
                             const void *body, size_t len, char *err, size_t errlen)
{
    char tmp[PATH_MAX];

    if (snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof(tmp)) {
        snprintf(err, errlen, "path too long: %s", path);
        return -1;
    }
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "create %s: %s", tmp, strerror(errno));
        return -1;
    }
    if (rules_write_all(fd, head, head_len) < 0 || rules_write_all(fd, body, len) < 0 ||
        fsync(fd) < 0) {
        snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (close(fd) < 0) {
        fd = -1;
        snprintf(err, errlen, "close %s: %s", tmp, strerror(errno));
        goto fail;
    }
    fd = -1;
    if (rename(tmp, path) < 0) {
        snprintf(err, errlen, "rename %s to %s: %s", tmp, path, strerror(errno));
        goto fail;
    }
    return rules_fsync_dir(path, err, errlen);
fail:
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    return -1;
}

static int rules_keeper_persist(struct rules_keeper *k, const struct rules *r,
                                char *err, size_t errlen)
{
    char head[sizeof(RULES_KEEPER_SIG_PREFIX) + RULES_SIGN_HEX_LEN + 2];

    if (k->path[0] == '\0')
        return 0;
    int n = snprintf(head, sizeof(head), "%s%s\n", RULES_KEEPER_SIG_PREFIX, r->signature);
    return rules_write_file_durable(k->path, head, (size_t)n, r->source, r->source_len,
                                    err, errlen);
}

enum rules_accept_status rules_keeper_accept(struct rules_keeper *k,
                                             const char *body, size_t len,
                                             const char *sig_hex,
                                             uint64_t *version,
                                             char *err, size_t errlen)
{
    enum rules_accept_status st;
    struct rules *r = NULL;
    struct rules_guard g;

    pthread_mutex_lock(&k->accept_lock);
    *version = rules_store_version(&k->store);
    if (!rules_sign_verify(&k->secret, body, len, sig_hex)) {
        snprintf(err, errlen, "signature does not match the body (HMAC-SHA256, header %s)",
                 RULES_SIGN_HEADER);
        st = RULES_ACCEPT_BAD_SIGNATURE;
        goto out;
    }
    r = rules_parse(body, len, k->unit_names, k->nunits, err, errlen);
    if (r == NULL) {
        st = RULES_ACCEPT_INVALID;
        goto out;
    }
    const struct rules *cur = rules_store_get(&k->store, &g);
    if (cur != NULL && r->version < cur->version) {
        snprintf(err, errlen, "version %llu is older than the current version %llu",
                 (unsigned long long)r->version, (unsigned long long)cur->version);
        st = RULES_ACCEPT_STALE;
    } else if (cur != NULL && r->version == cur->version) {
        int same = cur->source_len == len && memcmp(cur->source, body, len) == 0;
        if (!same)
            snprintf(err, errlen, "version %llu is current with a different body",
                     (unsigned long long)r->version);
        st = same ? RULES_ACCEPT_SAME : RULES_ACCEPT_CONFLICT;
    } else {
        st = RULES_ACCEPT_APPLIED;
    }
    rules_store_put(&k->store, &g);
    if (st != RULES_ACCEPT_APPLIED)
        goto out;

    snprintf(r->signature, sizeof(r->signature), "%s", sig_hex);
    for (char *p = r->signature; *p; p++)
        if (*p >= 'A' && *p <= 'F')
            *p = (char)(*p - 'A' + 'a');
    if (rules_keeper_persist(k, r, err, errlen) < 0) {
        st = RULES_ACCEPT_IO_ERROR;
        goto out;
    }
    *version = r->version;
    rules_store_swap(&k->store, r);
    r = NULL;
out:
    pthread_mutex_unlock(&k->accept_lock);
    rules_destroy(r);
    return st;
}

/* Read a whole file (at most max bytes) into a malloc'd NUL-terminated buffer. */
static char *rules_read_file(const char *path, size_t max, size_t *len, int *missing,
                             char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    char *buf = NULL;

    *missing = 0;
    if (fd < 0) {
        *missing = errno == ENOENT;
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    if (fstat(fd, &st) < 0 || (size_t)st.st_size > max) {
        snprintf(err, errlen, "%s: unreadable or larger than %zu bytes", path, max);
        goto out;
    }
    buf = malloc((size_t)st.st_size + 1);
    if (buf == NULL) {
        snprintf(err, errlen, "%s: out of memory", path);
        goto out;
    }
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            snprintf(err, errlen, "%s: short read", path);
            free(buf);
            buf = NULL;
            goto out;
        }
        got += (size_t)n;
    }
    buf[got] = '\0';
    *len = got;
out:
    close(fd);
    return buf;
}

int rules_keeper_load(struct rules_keeper *k, char *err, size_t errlen)
{
    const size_t prefix = strlen(RULES_KEEPER_SIG_PREFIX);
    char sig[RULES_SIGN_HEX_LEN + 1];
    int missing, ret = -1;
    size_t len = 0;

    if (k->path[0] == '\0')
        return 0;
    char *buf = rules_read_file(k->path, RULES_BODY_MAX + 256, &len, &missing, err, errlen);
    if (buf == NULL)
        return missing ? 0 : -1;
    if (len < prefix + RULES_SIGN_HEX_LEN + 1 ||
        memcmp(buf, RULES_KEEPER_SIG_PREFIX, prefix) != 0 ||
        buf[prefix + RULES_SIGN_HEX_LEN] != '\n') {
        snprintf(err, errlen, "%s: no signature line: torn or not written by unitroute", k->path);
        goto out;
    }
    memcpy(sig, buf + prefix, RULES_SIGN_HEX_LEN);
    sig[RULES_SIGN_HEX_LEN] = '\0';
    const char *body = buf + prefix + RULES_SIGN_HEX_LEN + 1;
    size_t body_len = len - (size_t)(body - buf);
    if (!rules_sign_verify(&k->secret, body, body_len, sig)) {
        snprintf(err, errlen, "%s: signature does not match: the file is torn or was edited",
                 k->path);
        goto out;
    }
    char perr[256];
    struct rules *r = rules_parse(body, body_len, k->unit_names, k->nunits, perr, sizeof(perr));
    if (r == NULL) {
        snprintf(err, errlen, "%s: signed but invalid: %s", k->path, perr);
        goto out;
    }
    /* a reload must not go back either (the file is normally the newest) */
    pthread_mutex_lock(&k->accept_lock);
    uint64_t current = rules_store_version(&k->store);
    if (r->version < current) {
        snprintf(err, errlen, "%s: version %llu is older than the current version %llu",
                 k->path, (unsigned long long)r->version, (unsigned long long)current);
        rules_destroy(r);
    } else {
        memcpy(r->signature, sig, sizeof(sig));
        rules_store_swap(&k->store, r);
        ret = 1;
    }
    pthread_mutex_unlock(&k->accept_lock);
out:
    free(buf);
    return ret;
}

const char *rules_accept_status_name(enum rules_accept_status st)
{
    switch (st) {
    case RULES_ACCEPT_APPLIED:       return "applied";
    case RULES_ACCEPT_SAME:          return "unchanged";
    case RULES_ACCEPT_BAD_SIGNATURE: return "bad_signature";
    case RULES_ACCEPT_INVALID:       return "invalid";
    case RULES_ACCEPT_STALE:         return "stale";
    case RULES_ACCEPT_CONFLICT:      return "conflict";
    case RULES_ACCEPT_IO_ERROR:      return "io_error";
    }
    return "unknown";
}

int rules_accept_http_status(enum rules_accept_status st)
{
    switch (st) {
    case RULES_ACCEPT_APPLIED:
    case RULES_ACCEPT_SAME:          return 200;
    case RULES_ACCEPT_BAD_SIGNATURE: return 401;
    case RULES_ACCEPT_INVALID:       return 400;
    case RULES_ACCEPT_STALE:
    case RULES_ACCEPT_CONFLICT:      return 409;
    case RULES_ACCEPT_IO_ERROR:      return 500;
    }
    return 500;
}
