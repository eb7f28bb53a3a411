#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

atomic_int log_level_current = LOG_LEVEL_INFO;
static const char *log_program = "unitroute";

void log_init(const char *program, enum log_level level)
{
    log_program = program;
    log_set_level(level);
}

void log_set_level(enum log_level level)
{
    atomic_store_explicit(&log_level_current, (int)level, memory_order_relaxed);
}

int log_level_parse(const char *name)
{
    static const char *const names[] = { "error", "warn", "info", "debug" };

    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
{
    static const char *const tags[] = { "ERROR", "WARN", "INFO", "DEBUG" };
    char stamp[32], msg[1024];
    struct timespec ts;
    struct tm tm;
    va_list ap;

    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &tm);
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    /* one fprintf per line: lines from threads do not interleave */
    fprintf(stderr, "%s.%03ldZ %s %s %s:%d %s\n", stamp, ts.tv_nsec / 1000000, log_program,
            tags[level], file, line, msg);
}
