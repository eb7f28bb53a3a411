#include "rules_sign.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

int rules_secret_load(struct rules_secret *s, const char *path, char *err, size_t errlen)
{
    struct stat st;
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

    s->len = 0;
    if (fd < 0) {
        snprintf(err, errlen, "secret file %s: %s", path, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "secret file %s: not a regular file", path);
        goto fail;
    }
    if (st.st_mode & (S_IROTH | S_IWOTH)) {
        snprintf(err, errlen, "secret file %s: readable or writable by others (mode %03o); "
                 "chmod 600 it", path, (unsigned)(st.st_mode & 0777));
        goto fail;
    }
    ssize_t n = read(fd, s->key, sizeof(s->key));
    if (n < 0) {
        snprintf(err, errlen, "secret file %s: %s", path, strerror(errno));
        goto fail;
    }
    if ((size_t)n == sizeof(s->key)) {
        snprintf(err, errlen, "secret file %s: longer than %d bytes", path, RULES_SIGN_SECRET_MAX - 1);
        goto fail;
    }
    while (n > 0 && (s->key[n - 1] == '\n' || s->key[n - 1] == '\r'))
        n--;
    if (n == 0) {
        snprintf(err, errlen, "secret file %s: empty", path);
        goto fail;
    }
    s->len = (size_t)n;
    close(fd);
    return 0;
fail:
    rules_secret_clear(s);
    close(fd);
    return -1;
}

void rules_secret_clear(struct rules_secret *s)
{
    OPENSSL_cleanse(s->key, sizeof(s->key));
    s->len = 0;
}

static void rules_sign_raw(const struct rules_secret *s, const void *body, size_t len,
                           unsigned char mac[32])
{
    unsigned int maclen = 32;

    HMAC(EVP_sha256(), s->key, (int)s->len, body, len, mac, &maclen);
}

void rules_sign(const struct rules_secret *s, const void *body, size_t len,
                char hex[RULES_SIGN_HEX_LEN + 1])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[32];

    rules_sign_raw(s, body, len, mac);
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[RULES_SIGN_HEX_LEN] = '\0';
}

static int rules_sign_nibble(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool rules_sign_verify(const struct rules_secret *s, const void *body, size_t len,
                       const char *hex)
{
    unsigned char want[32], mac[32];

    if (hex == NULL || s->len == 0 || strlen(hex) != RULES_SIGN_HEX_LEN)
        return false;
    for (int i = 0; i < 32; i++) {
        int hi = rules_sign_nibble(hex[2 * i]), lo = rules_sign_nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        want[i] = (unsigned char)(hi << 4 | lo);
    }
    rules_sign_raw(s, body, len, mac);
    return CRYPTO_memcmp(want, mac, sizeof(mac)) == 0;
}
