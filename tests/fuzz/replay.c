/*
 * replay.c: runs files through a fuzz target once each (the `make test`
 * driver; `make fuzz` uses libFuzzer's own main instead).
 *
 *   fuzz_NAME PATH...   each PATH a file, or a directory whose files are run
 *
 * Counts the whole replay as one test: "1 passed, 0 failed" after every input
 * ran. A failing input aborts the process (FUZZ_CHECK, a crash or a
 * sanitizer report), which the test runner counts as a failure; the input's
 * path is printed first ("failing input: PATH").
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define REPLAY_SANITIZED 1
#endif

static char current_input[4096];

static void report_input(void)
{
    static const char head[] = "failing input: ";
    if (current_input[0] == '\0')
        return;
    if (write(STDERR_FILENO, head, sizeof(head) - 1) < 0 ||
        write(STDERR_FILENO, current_input, strlen(current_input)) < 0 ||
        write(STDERR_FILENO, "\n", 1) < 0)
        return;
}

static void on_fatal_signal(int sig)
{
    report_input();
    signal(sig, SIG_DFL);
    raise(sig);
}

static int replay_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t cap = 4096, len = 0;
    uint8_t *buf = malloc(cap);
    size_t n;
    while (buf != NULL && (n = fread(buf + len, 1, cap - len, f)) > 0) {
        len += n;
        if (len == cap) {
            uint8_t *grown = realloc(buf, cap * 2);
            if (grown == NULL) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = grown;
            cap *= 2;
        }
    }
    fclose(f);
    if (buf == NULL) {
        fprintf(stderr, "%s: out of memory\n", path);
        return -1;
    }
    /* an exact-size copy, so ASan sees a read past the input's end */
    uint8_t *exact = malloc(len ? len : 1);
    if (exact == NULL) {
        free(buf);
        return -1;
    }
    memcpy(exact, buf, len);
    free(buf);
    snprintf(current_input, sizeof(current_input), "%s", path);
    LLVMFuzzerTestOneInput(exact, len);
    current_input[0] = '\0';
    free(exact);
    return 0;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir, in name order. Returns inputs run, or -1. */
static int replay_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL) {
        fprintf(stderr, "%s: %s\n", dir, strerror(errno));
        return -1;
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    struct dirent *e;
    int rc = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (count == cap) {
            cap = cap ? cap * 2 : 64;
            char **grown = realloc(names, cap * sizeof(*names));
            if (grown == NULL) {
                rc = -1;
                break;
            }
            names = grown;
        }
        if ((names[count] = strdup(e->d_name)) == NULL) {
            rc = -1;
            break;
        }
        count++;
    }
    closedir(d);
    qsort(names, count, sizeof(*names), name_cmp);
    int run = 0;
    for (size_t i = 0; i < count; i++) {
        char path[4096];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        if (rc == 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
            if (replay_file(path) != 0)
                rc = -1;
            else
                run++;
        }
        free(names[i]);
    }
    free(names);
    return rc == 0 ? run : -1;
}

int main(int argc, char **argv)
{
    int inputs = 0, failed = 0;

    signal(SIGABRT, on_fatal_signal);
    signal(SIGSEGV, on_fatal_signal);
    signal(SIGBUS, on_fatal_signal);
#ifdef REPLAY_SANITIZED
    __sanitizer_set_death_callback(report_input);
#endif

    for (int i = 1; i < argc; i++) {
        struct stat st;
        int n;
        if (stat(argv[i], &st) != 0) {
            fprintf(stderr, "%s: %s\n", argv[i], strerror(errno));
            failed++;
            continue;
        }
        n = S_ISDIR(st.st_mode) ? replay_dir(argv[i]) : (replay_file(argv[i]) == 0 ? 1 : -1);
        if (n < 0)
            failed++;
        else
            inputs += n;
    }
    if (inputs == 0 && failed == 0) {
        fprintf(stderr, "usage: %s FILE|DIR...: no input was run\n", argv[0]);
        failed = 1;
    }
    printf("%s: %d inputs replayed\n", argv[0], inputs);
    printf("%d passed, %d failed\n", failed ? 0 : 1, failed ? 1 : 0);
    return failed ? 1 : 0;
}
