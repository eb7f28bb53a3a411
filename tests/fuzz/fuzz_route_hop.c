/*
 * fuzz_route_hop.c: the gateway's parser of the hop header, a value any
 * client can send (gateway/route.h).
 *
 * Properties: route_hop_parse never reads past the value's end and always
 * leaves a terminated sender and sig of ROUTE_HOP_SIG_LEN or none; a value
 * it parsed with a version formats back to a value that parses to the same
 * hop (without a version the old form "unit" is written, signature and all
 * dropped).
 */
#include <string.h>

#include "gateway/route.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *value = malloc(size + 1);
    struct route_hop hop, again;
    char formatted[256];

    if (value == NULL)
        return 0;
    memcpy(value, data, size);
    value[size] = '\0';
    route_hop_parse(value, &hop);
    FUZZ_CHECK(memchr(hop.sender, '\0', sizeof(hop.sender)) != NULL);
    FUZZ_CHECK(memchr(hop.sig, '\0', sizeof(hop.sig)) != NULL);
    FUZZ_CHECK(hop.sig[0] == '\0' || strlen(hop.sig) == ROUTE_HOP_SIG_LEN);
    if (hop.version != 0 && hop.sender[0] != '\0' && strpbrk(hop.sender, "; \t") == NULL) {
        int n = route_hop_format(formatted, sizeof(formatted), hop.sender, hop.version,
                                 hop.sig);
        FUZZ_CHECK(n > 0 && (size_t)n == strlen(formatted));
        route_hop_parse(formatted, &again);
        FUZZ_CHECK(strcmp(again.sender, hop.sender) == 0);
        FUZZ_CHECK(again.version == hop.version);
        FUZZ_CHECK(strcmp(again.sig, hop.sig) == 0);
    }
    free(value);
    return 0;
}
