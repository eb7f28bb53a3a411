/*
 * fuzz.h: the contract of a fuzz target, tests/fuzz/fuzz_NAME.c.
 *
 * A target defines LLVMFuzzerTestOneInput. `make fuzz` links it with
 * libFuzzer (clang, ASan + UBSan) and runs it from tests/fuzz/corpus/NAME;
 * `make test` links it with replay.c and runs every file of that corpus
 * through it once, plain and under ASan + UBSan, so an input that once broke
 * a target stays a test. A target checks properties with FUZZ_CHECK: a
 * failed check prints the condition and aborts, which both drivers report.
 */
#ifndef UNITROUTE_FUZZ_H
#define UNITROUTE_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                    \
    do {                                                                    \
        if (!(cond)) {                                                      \
            fprintf(stderr, "%s:%d: property failed: %s\n", __FILE__,       \
                    __LINE__, #cond);                                       \
            abort();                                                        \
        }                                                                   \
    } while (0)

#endif
