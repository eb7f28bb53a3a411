/*
 * proxy_stmt: run one server-side prepared statement (libmariadb's
 * mysql_stmt_* API, the binary protocol) for the proxy's integration tests.
 *
 *   proxy_stmt PORT USER PASSWORD DB SQL [-n TIMES] [-C USER:PASSWORD]
 *              [--cursor] [--direct] [PARAM...]
 *
 * -C: COM_CHANGE_USER to that user before preparing (an auth round trip
 * through the proxy). --cursor: execute with a read-only cursor and fetch
 * one row at a time (COM_STMT_FETCH). --direct: PREPARE and EXECUTE sent
 * back to back (mariadb_stmt_execute_direct, statement id -1).
 *
 * PARAM: an integer (bound as BIGINT), s:TEXT (a string), or null.
 * Prints "prepare-error CODE SQLSTATE message" and exits 1 if PREPARE fails;
 * otherwise one line per execution: "ok AFFECTED ROWS" or
 * "error CODE SQLSTATE message". Exits 0 if every execution succeeded, 3 if
 * some failed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mysql.h>

#define PARAMS_MAX 16

int main(int argc, char **argv)
{
    MYSQL_BIND bind[PARAMS_MAX];
    long long ints[PARAMS_MAX];
    char is_null[PARAMS_MAX];
    unsigned long lens[PARAMS_MAX];
    int times = 1, np = 0, rc = 0;

    if (argc < 6) {
        fprintf(stderr, "usage: proxy_stmt PORT USER PASSWORD DB SQL [-n TIMES] [PARAM...]\n");
        return 2;
    }
    int i = 6;
    const char *change = NULL;
    int cursor = 0, direct = 0;
    for (;;) {
        if (i + 1 < argc && strcmp(argv[i], "-n") == 0) {
            times = atoi(argv[i + 1]);
            i += 2;
        } else if (i + 1 < argc && strcmp(argv[i], "-C") == 0) {
            change = argv[i + 1];
            i += 2;
        } else if (i < argc && strcmp(argv[i], "--cursor") == 0) {
            cursor = 1;
            i++;
        } else if (i < argc && strcmp(argv[i], "--direct") == 0) {
            direct = 1;
            i++;
        } else {
            break;
        }
    }
    memset(bind, 0, sizeof(bind));
    for (; i < argc && np < PARAMS_MAX; i++, np++) {
        is_null[np] = 0;
        if (strcmp(argv[i], "null") == 0) {
            bind[np].buffer_type = MYSQL_TYPE_NULL;
            is_null[np] = 1;
        } else if (strncmp(argv[i], "s:", 2) == 0) {
            bind[np].buffer_type = MYSQL_TYPE_STRING;
            bind[np].buffer = argv[i] + 2;
            lens[np] = strlen(argv[i] + 2);
            bind[np].length = &lens[np];
        } else {
            ints[np] = atoll(argv[i]);
            bind[np].buffer_type = MYSQL_TYPE_LONGLONG;
            bind[np].buffer = &ints[np];
        }
        bind[np].is_null = &is_null[np];
    }
    MYSQL *db = mysql_init(NULL);
    unsigned int ssl_off = 0;
    mysql_optionsv(db, MYSQL_OPT_SSL_ENFORCE, &ssl_off);
    if (!mysql_real_connect(db, "127.0.0.1", argv[2], argv[3], argv[4], (unsigned)atoi(argv[1]),
                            NULL, 0)) {
        printf("connect-error %u %s %s\n", mysql_errno(db), mysql_sqlstate(db), mysql_error(db));
        return 1;
    }
    if (change) {
        char user[128];
        const char *colon = strchr(change, ':');
        snprintf(user, sizeof(user), "%.*s", colon ? (int)(colon - change) : (int)strlen(change),
                 change);
        if (mysql_change_user(db, user, colon ? colon + 1 : "", argv[4]) != 0) {
            printf("change-user-error %u %s %s\n", mysql_errno(db), mysql_sqlstate(db),
                   mysql_error(db));
            return 1;
        }
        if (mysql_query(db, "SELECT CURRENT_USER()") == 0) {
            MYSQL_RES *res = mysql_store_result(db);
            MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
            printf("user %s\n", row && row[0] ? row[0] : "?");
            mysql_free_result(res);
        }
    }
    MYSQL_STMT *st = mysql_stmt_init(db);
    if (cursor) {
        unsigned long type = CURSOR_TYPE_READ_ONLY, prefetch = 1;
        mysql_stmt_attr_set(st, STMT_ATTR_CURSOR_TYPE, &type);
        mysql_stmt_attr_set(st, STMT_ATTR_PREFETCH_ROWS, &prefetch);
    }
    if (direct) {
        /* binds are needed before the direct execute: set the count first */
        unsigned int n = (unsigned int)np;
        mysql_stmt_attr_set(st, STMT_ATTR_PREBIND_PARAMS, &n);
        if (np > 0)
            mysql_stmt_bind_param(st, bind);
        if (mariadb_stmt_execute_direct(st, argv[5], strlen(argv[5])) != 0) {
            printf("error %u %s %s\n", mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
                   mysql_stmt_error(st));
            rc = 3;
        } else {
            printf("ok %llu\n", (unsigned long long)mysql_stmt_affected_rows(st));
        }
        mysql_stmt_close(st);
        mysql_close(db);
        return rc;
    }
    if (mysql_stmt_prepare(st, argv[5], strlen(argv[5])) != 0) {
        printf("prepare-error %u %s %s\n", mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
               mysql_stmt_error(st));
        mysql_stmt_close(st);
        mysql_close(db);
        return 1;
    }
    if (np > 0 && mysql_stmt_bind_param(st, bind) != 0) {
        printf("bind-error %s\n", mysql_stmt_error(st));
        return 1;
    }
    for (int t = 0; t < times; t++) {
        if (mysql_stmt_execute(st) != 0) {
            printf("error %u %s %s\n", mysql_stmt_errno(st), mysql_stmt_sqlstate(st),
                   mysql_stmt_error(st));
            rc = 3;
            continue;
        }
        unsigned long long rows = 0;
        if (mysql_stmt_field_count(st) > 0 && cursor) {
            MYSQL_BIND out;
            char cell[256];
            unsigned long len = 0;
            memset(&out, 0, sizeof(out));
            out.buffer_type = MYSQL_TYPE_STRING;
            out.buffer = cell;
            out.buffer_length = sizeof(cell);
            out.length = &len;
            mysql_stmt_bind_result(st, &out);
            while (mysql_stmt_fetch(st) == 0)
                rows++;
            mysql_stmt_free_result(st);
        } else if (mysql_stmt_field_count(st) > 0) {
            mysql_stmt_store_result(st);
            rows = mysql_stmt_num_rows(st);
            mysql_stmt_free_result(st);
        }
        printf("ok %llu %llu\n", (unsigned long long)mysql_stmt_affected_rows(st), rows);
    }
    mysql_stmt_close(st);
    mysql_close(db);
    return rc;
}
