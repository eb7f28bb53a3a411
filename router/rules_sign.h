/*
 * rules_sign: HMAC-SHA256 over the exact bytes of a rule document.
 *
 * A push carries the signature as lowercase hex (64 characters) in the
 * X-Unitroute-Signature header; a persisted rule file carries it on its first
 * line (see rules_keeper.h). The secret is a file that must not be readable or
 * writable by others.
 */
#ifndef UR_RULES_SIGN_H
#define UR_RULES_SIGN_H

#include <stddef.h>
#include <stdbool.h>

#define RULES_SIGN_HEX_LEN   64
#define RULES_SIGN_SECRET_MAX 1024
#define RULES_SIGN_HEADER    "X-Unitroute-Signature"

struct rules_secret {
    unsigned char key[RULES_SIGN_SECRET_MAX];
    size_t        len;
};

/*
 * Load the secret from path: its bytes with trailing newlines removed.
 * Refuses a file others can read or write, an empty one, or one over
 * RULES_SIGN_SECRET_MAX bytes. Returns 0, or -1 with the reason in err.
 */
int rules_secret_load(struct rules_secret *s, const char *path,
                      char *err, size_t errlen);

/* Wipe the key bytes. */
void rules_secret_clear(struct rules_secret *s);

/* hex gets RULES_SIGN_HEX_LEN lowercase hex characters and a NUL. */
void rules_sign(const struct rules_secret *s, const void *body, size_t len,
                char hex[RULES_SIGN_HEX_LEN + 1]);

/* Constant-time check of a hex signature (case-insensitive). */
bool rules_sign_verify(const struct rules_secret *s, const void *body, size_t len,
                       const char *hex);

#endif
