#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>

#include "control/center.h"
#include "control/ctl_http.h"
#include "router/rules.h"
#include "router/rules_sign.h"
#include "router/strbuf.h"

struct cli_answer {
    struct strbuf body;
    long          status;       /* HTTP status, 0 = no answer */
    int           exit_code;    /* X-Unitroute-Exit, -1 if absent */
    char          next[32];     /* X-Unitroute-Next */
    char          outcome[32];  /* X-Unitroute-Outcome */
    char          cutover[64];  /* X-Unitroute-Cutover */
};

static size_t cli_write_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct cli_answer *a = ctx;
    strbuf_append(&a->body, data, size * nmemb);
    return size * nmemb;
}

static void cli_header_value(const char *line, size_t len, const char *name, char *out,
                             size_t outlen)
{
    size_t n = strlen(name);

    if (len <= n + 1 || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return;
    const char *v = line + n + 1;
    while (*v == ' ')
        v++;
    size_t vl = strcspn(v, "\r\n");
    if (vl >= outlen)
        vl = outlen - 1;
    memcpy(out, v, vl);
    out[vl] = '\0';
}

static size_t cli_header_cb(char *data, size_t size, size_t nmemb, void *ctx)
{
    struct cli_answer *a = ctx;
    size_t len = size * nmemb;
    char code[16] = "";

    cli_header_value(data, len, "X-Unitroute-Exit", code, sizeof(code));
    if (code[0])
        a->exit_code = atoi(code);
    cli_header_value(data, len, "X-Unitroute-Next", a->next, sizeof(a->next));
    cli_header_value(data, len, "X-Unitroute-Outcome", a->outcome, sizeof(a->outcome));
    cli_header_value(data, len, "X-Unitroute-Cutover", a->cutover, sizeof(a->cutover));
    return len;
}

/* One call. Returns 0 with a (caller deinit a->body), or -1 after printing why. */
static int cli_call(const struct cli_ctx *ctx, const char *method, const char *path,
                    const char *body, size_t len, long timeout_ms, struct cli_answer *a)
{
    struct rules_secret tok;
    char err[512], url[512];
    struct curl_slist *hdrs = NULL;
    int rc = -1;

    memset(a, 0, sizeof(*a));
    a->exit_code = -1;
    strbuf_init(&a->body);
    if (rules_secret_load(&tok, ctx->token_file, err, sizeof(err)) < 0) {
        fprintf(stderr, "unitctl: token: %s\n", err);
        return -1;
    }
    struct strbuf h;
    strbuf_init(&h);
    strbuf_printf(&h, "%s: ", CTL_TOKEN_HEADER);
    strbuf_append(&h, tok.key, tok.len);
    rules_secret_clear(&tok);
    hdrs = curl_slist_append(hdrs, h.buf ? h.buf : "");
    hdrs = curl_slist_append(hdrs, "Expect:");
    hdrs = curl_slist_append(hdrs, "Content-Type: text/plain");
    if (h.buf != NULL)
        memset(h.buf, 0, h.len);
    strbuf_deinit(&h);

    CURL *e = curl_easy_init();
    if (e == NULL) {
        fprintf(stderr, "unitctl: out of memory\n");
        goto out;
    }
    snprintf(url, sizeof(url), "http://%s%s", ctx->server, path);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROXY, "");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 3000L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, cli_write_cb);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, a);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, cli_header_cb);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, a);
    if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, body ? body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode code = curl_easy_perform(e);
    if (code != CURLE_OK) {
        fprintf(stderr, "unitctl: control center %s: %s\n", ctx->server, curl_easy_strerror(code));
        goto out_easy;
    }
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &a->status);
    if (a->exit_code < 0)
        a->exit_code = a->status == 200 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
    rc = 0;
out_easy:
    curl_easy_cleanup(e);
out:
    curl_slist_free_all(hdrs);
    if (rc < 0)
        strbuf_deinit(&a->body);
    return rc;
}

/* Print the answer (errors to stderr) and return its exit code. */
static int cli_simple(const struct cli_ctx *ctx, const char *method, const char *path,
                      const char *body, size_t len)
{
    struct cli_answer a;

    if (cli_call(ctx, method, path, body, len, 60000, &a) < 0)
        return CTL_EXIT_ERROR;
    fwrite(a.body.buf ? a.body.buf : "", 1, a.body.len, a.exit_code == 0 ? stdout : stderr);
    int rc = a.exit_code;
    strbuf_deinit(&a.body);
    return rc;
}

long cli_parse_duration(const char *text)
{
    char *end;
    double v = strtod(text, &end);

    if (end == text || v < 0)
        return -1;
    if (*end == '\0' || strcmp(end, "s") == 0)
        return (long)(v * 1000);
    if (strcmp(end, "ms") == 0)
        return (long)v;
    if (strcmp(end, "m") == 0)
        return (long)(v * 60000);
    return -1;
}

static int cli_rules(const struct cli_ctx *ctx, int argc, char **argv)
{
    if (argc == 1)
        return cli_simple(ctx, "GET", "/v1/rules", NULL, 0);
    if (argc != 3 || strcmp(argv[1], "push") != 0) {
        fprintf(stderr, "usage: unitctl rules [push FILE]\n");
        return CTL_EXIT_USAGE;
    }
    FILE *f = fopen(argv[2], "rb");
    if (f == NULL) {
        fprintf(stderr, "unitctl: cannot read %s\n", argv[2]);
        return CTL_EXIT_ERROR;
    }
    char *buf = malloc(RULES_BODY_MAX + 1);
    size_t len = buf ? fread(buf, 1, RULES_BODY_MAX + 1, f) : 0;
    fclose(f);
    if (buf == NULL || len > RULES_BODY_MAX) {
        fprintf(stderr, "unitctl: %s is too large\n", argv[2]);
        free(buf);
        return CTL_EXIT_ERROR;
    }
    int rc = cli_simple(ctx, "POST", "/v1/rules", buf, len);
    free(buf);
    return rc;
}

/* Follow a cutover's events until it ends. Returns the exit code. */
static int cli_follow(const struct cli_ctx *ctx, const char *id)
{
    char path[256];
    unsigned long next = 0;

    for (;;) {
        struct cli_answer a;
        snprintf(path, sizeof(path), "/v1/cutover/events?id=%s&after=%lu&wait_ms=2000", id,
                 next);
        if (cli_call(ctx, "GET", path, NULL, 0, 15000, &a) < 0) {
            fprintf(stderr, "unitctl: lost the control center; cutover %s goes on there "
                            "(unitctl status, unitctl history)\n", id);
            return CTL_EXIT_ERROR;
        }
        fwrite(a.body.buf ? a.body.buf : "", 1, a.body.len, stdout);
        fflush(stdout);
        strbuf_deinit(&a.body);
        if (a.status != 200)
            return CTL_EXIT_ERROR;
        next = strtoul(a.next, NULL, 10);
        if (strcmp(a.outcome, "running") == 0)
            continue;
        if (strcmp(a.outcome, "done") == 0)
            return CTL_EXIT_OK;
        if (strcmp(a.outcome, "rolled_back") == 0)
            return CTL_EXIT_ROLLED_BACK;
        return CTL_EXIT_ERROR;
    }
}

static int cli_cutover(const struct cli_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        { "buckets", required_argument, NULL, 'b' },
        { "buyer", required_argument, NULL, 'u' },
        { "to", required_argument, NULL, 't' },
        { "timeout", required_argument, NULL, 'T' },
        { "dry-run", no_argument, NULL, 'n' },
        { "force", no_argument, NULL, 'f' },
        { NULL, 0, NULL, 0 },
    };
    struct strbuf body;
    int ch, have_sel = 0, have_to = 0;

    strbuf_init(&body);
    optind = 1;
    while ((ch = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (ch) {
        case 'b': strbuf_printf(&body, "buckets=%s\n", optarg); have_sel++; break;
        case 'u': strbuf_printf(&body, "buyer=%s\n", optarg); have_sel++; break;
        case 't': strbuf_printf(&body, "to=%s\n", optarg); have_to = 1; break;
        case 'n': strbuf_puts(&body, "dry_run=1\n"); break;
        case 'f': strbuf_puts(&body, "force=1\n"); break;
        case 'T': {
            long ms = cli_parse_duration(optarg);
            if (ms < 0) {
                fprintf(stderr, "unitctl: --timeout %s: expected 30s, 500ms, 2m\n", optarg);
                strbuf_deinit(&body);
                return CTL_EXIT_USAGE;
            }
            strbuf_printf(&body, "timeout_ms=%ld\n", ms);
            break;
        }
        default:
            strbuf_deinit(&body);
            return CTL_EXIT_USAGE;
        }
    }
    if (have_sel != 1 || !have_to || optind != argc) {
        fprintf(stderr, "usage: unitctl cutover (--buckets A-B | --buyer N) --to UNIT "
                        "[--dry-run] [--timeout 30s] [--force]\n");
        strbuf_deinit(&body);
        return CTL_EXIT_USAGE;
    }
    struct cli_answer a;
    int rc = cli_call(ctx, "POST", "/v1/cutover", body.buf, body.len, 120000, &a);
    strbuf_deinit(&body);
    if (rc < 0)
        return CTL_EXIT_ERROR;
    fwrite(a.body.buf ? a.body.buf : "", 1, a.body.len, a.exit_code == 0 ? stdout : stderr);
    fflush(stdout);
    strbuf_deinit(&a.body);
    if (a.exit_code != 0 || a.cutover[0] == '\0')
        return a.exit_code;
    return cli_follow(ctx, a.cutover);
}

int cli_run(const struct cli_ctx *ctx, int argc, char **argv)
{
    const char *cmd = argv[0];

    if (strcmp(cmd, "status") == 0 && argc == 1)
        return cli_simple(ctx, "GET", "/v1/status", NULL, 0);
    if (strcmp(cmd, "rules") == 0)
        return cli_rules(ctx, argc, argv);
    if (strcmp(cmd, "cutover") == 0)
        return cli_cutover(ctx, argc, argv);
    if (strcmp(cmd, "abort") == 0 && argc == 1)
        return cli_simple(ctx, "POST", "/v1/abort", NULL, 0);
    if (strcmp(cmd, "history") == 0 && argc == 1)
        return cli_simple(ctx, "GET", "/v1/history", NULL, 0);
    if (strcmp(cmd, "confirm-sync") == 0 && argc == 2) {
        char path[128];
        if (strlen(argv[1]) > 64 || strspn(argv[1], "abcdefghijklmnopqrstuvwxyz"
                                                    "0123456789-_.") != strlen(argv[1])) {
            fprintf(stderr, "unitctl: bad cutover id\n");
            return CTL_EXIT_USAGE;
        }
        snprintf(path, sizeof(path), "/v1/confirm-sync?id=%s", argv[1]);
        return cli_simple(ctx, "POST", path, NULL, 0);
    }
    fprintf(stderr, "unitctl: unknown command or wrong arguments: %s (unitctl --help)\n", cmd);
    return CTL_EXIT_USAGE;
}
