/*
 * log: leveled logging to stderr for the programs' mains and event loops.
 * Library code (router/, codecs, classifiers) never logs; it reports errors
 * to its caller. The macros test the level before evaluating arguments.
 */
#ifndef UR_LOG_H
#define UR_LOG_H

#include <stdatomic.h>

enum log_level {
    LOG_LEVEL_ERROR,
    LOG_LEVEL_WARN,
    LOG_LEVEL_INFO,
    LOG_LEVEL_DEBUG,
};

/* The level in force; a reload changes it while other threads log. */
extern atomic_int log_level_current;

/* Program name put on every line. */
void log_init(const char *program, enum log_level level);

/* Change the level (any thread). */
void log_set_level(enum log_level level);

/* Parse "error", "warn", "info", "debug"; -1 if none of those. */
int log_level_parse(const char *name);

void log_write(enum log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define log_at(level, ...)                                              \
    do {                                                                \
        if ((int)(level) <= atomic_load_explicit(&log_level_current,   \
                                                 memory_order_relaxed)) \
            log_write((level), __FILE__, __LINE__, __VA_ARGS__);        \
    } while (0)

#define log_error(...) log_at(LOG_LEVEL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_at(LOG_LEVEL_WARN, __VA_ARGS__)
#define log_info(...)  log_at(LOG_LEVEL_INFO, __VA_ARGS__)
#define log_debug(...) log_at(LOG_LEVEL_DEBUG, __VA_ARGS__)

#endif
