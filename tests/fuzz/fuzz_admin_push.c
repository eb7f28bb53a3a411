/*
 * fuzz_admin_push.c: the text an admin listener parses before a push is
 * accepted: its "host:port" listen address (router/admin_http.h) and the
 * signature header of a pushed rule document (router/rules_sign.h).
 *
 * Input: the first line is a "host:port" address, the second a signature
 * header value, the rest a pushed body.
 *
 * Properties:
 *  - admin_http_parse_addr accepts an address only with a port of decimal
 *    digits in 1..65535 after the last ':', and then the parsed address
 *    printed back as "a.b.c.d:port" parses to the same address;
 *  - rules_sign_verify accepts a header exactly when it is the body's
 *    HMAC in hex (either case); the true signature, in upper case too,
 *    verifies, and with one hex digit changed it does not.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include "router/admin_http.h"
#include "router/rules_sign.h"
#include "tests/fuzz/fuzz.h"

static void fuzz_check_addr(const char *text)
{
    struct sockaddr_in sa, again;
    char host[INET_ADDRSTRLEN], printed[64];

    if (admin_http_parse_addr(text, &sa) < 0)
        return;
    const char *port = strrchr(text, ':');
    FUZZ_CHECK(port != NULL);
    FUZZ_CHECK(port[1] != '\0' && strspn(port + 1, "0123456789") == strlen(port + 1));
    FUZZ_CHECK(strtol(port + 1, NULL, 10) == ntohs(sa.sin_port) && ntohs(sa.sin_port) > 0);
    FUZZ_CHECK(inet_ntop(AF_INET, &sa.sin_addr, host, sizeof(host)) != NULL);
    snprintf(printed, sizeof(printed), "%s:%u", host, (unsigned)ntohs(sa.sin_port));
    FUZZ_CHECK(admin_http_parse_addr(printed, &again) == 0);
    FUZZ_CHECK(again.sin_addr.s_addr == sa.sin_addr.s_addr && again.sin_port == sa.sin_port);
}

static void fuzz_check_signature(const char *header, const char *body, size_t len)
{
    static const struct rules_secret secret = { "fuzz-secret", 11 };
    char sig[RULES_SIGN_HEX_LEN + 1];

    rules_sign(&secret, body, len, sig);
    FUZZ_CHECK(rules_sign_verify(&secret, body, len, header) == (strcasecmp(header, sig) == 0));
    FUZZ_CHECK(rules_sign_verify(&secret, body, len, sig));
    for (size_t i = 0; i < RULES_SIGN_HEX_LEN; i++)
        sig[i] = (char)(sig[i] >= 'a' ? sig[i] - 'a' + 'A' : sig[i]);
    FUZZ_CHECK(rules_sign_verify(&secret, body, len, sig));
    sig[len % RULES_SIGN_HEX_LEN] ^= sig[len % RULES_SIGN_HEX_LEN] == '0' ? 1 : 0x10;
    FUZZ_CHECK(!rules_sign_verify(&secret, body, len, sig));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);

    if (text == NULL)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    char *header = strchr(text, '\n');
    if (header != NULL)
        *header++ = '\0';
    char *body = header != NULL ? strchr(header, '\n') : NULL;
    if (body != NULL)
        *body++ = '\0';
    fuzz_check_addr(text);
    if (header != NULL)
        fuzz_check_signature(header, body ? body : "",
                             body ? size - (size_t)(body - text) : 0);
    free(text);
    return 0;
}
