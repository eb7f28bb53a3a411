/*
 * fuzz_topology.c: the operator's configuration files as the gateway and
 * every component read them: router/topology.h (topology_load) and
 * gateway/gw_config.h (gw_config_load, which also loads the topology it
 * names). Input from the operator, so only crashes, leaks and undefined
 * behaviour matter, plus the loaded structure being in range.
 *
 * Input: one byte choosing the reader (bit 0: the gateway config, next to a
 * fixed valid topology.conf; else topology.conf itself), then the file.
 *
 * Properties: no crash or leak; a refusal says why; a loaded topology has
 * 1..RULES_UNITS_MAX distinct, terminated unit names that
 * topology_unit_index finds, and a center among them; a loaded gateway
 * config names a unit of its topology, has routes and buyerId sources
 * within their arrays, and a route table pointing at its topology.
 */
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gateway/gw_config.h"
#include "router/topology.h"
#include "tests/fuzz/fuzz.h"

static const char fuzz_fixed_topology[] =
    "secret_file = \"secret.key\";\n"
    "center = \"dc-a\";\n"
    "units = (\n"
    "  { name = \"dc-a\"; public_url = \"http://127.0.0.1:8081\";\n"
    "    gateway_admin = [ \"127.0.0.1:9081\" ]; proxy_admin = [ \"127.0.0.1:9091\" ]; },\n"
    "  { name = \"dc-b\"; public_url = \"http://127.0.0.1:8082\"; }\n"
    ");\n";

static char fuzz_dir[64];

static int fuzz_write(const char *name, const void *data, size_t len)
{
    char path[128];
    FILE *f;

    snprintf(path, sizeof(path), "%s/%s", fuzz_dir, name);
    if ((f = fopen(path, "wb")) == NULL)
        return -1;
    size_t n = len ? fwrite(data, 1, len, f) : 0;
    return fclose(f) == 0 && n == len ? 0 : -1;
}

static void fuzz_remove_dir(void)
{
    char path[128];

    snprintf(path, sizeof(path), "%s/topology.conf", fuzz_dir);
    unlink(path);
    snprintf(path, sizeof(path), "%s/gateway.conf", fuzz_dir);
    unlink(path);
    rmdir(fuzz_dir);
}

/* A private directory for the files, made once, removed at exit. */
static void fuzz_dir_get(void)
{
    if (fuzz_dir[0] != '\0')
        return;
    snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/fuzz_topology.XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (mkdtemp(fuzz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_remove_dir);
}

static void fuzz_check_topology(const struct topology *t)
{
    FUZZ_CHECK(t->nunits >= 1 && t->nunits <= RULES_UNITS_MAX);
    FUZZ_CHECK(t->center >= 0 && (size_t)t->center < t->nunits);
    for (size_t i = 0; i < t->nunits; i++) {
        const struct topology_unit *u = &t->units[i];
        FUZZ_CHECK(memchr(u->name, '\0', sizeof(u->name)) != NULL && u->name[0] != '\0');
        FUZZ_CHECK(t->unit_names[i] == u->name);
        FUZZ_CHECK(topology_unit_index(t, u->name) == (int)i);
        FUZZ_CHECK(memchr(u->public_url, '\0', sizeof(u->public_url)) != NULL);
        FUZZ_CHECK(memchr(u->gateway_url, '\0', sizeof(u->gateway_url)) != NULL);
        FUZZ_CHECK(u->ngateway_admin <= TOPOLOGY_COMPONENTS_MAX);
        FUZZ_CHECK(u->nproxy_admin <= TOPOLOGY_COMPONENTS_MAX);
    }
}

static void fuzz_check_gw_config(const struct gw_config *c)
{
    FUZZ_CHECK(c->topo != NULL && c->table.topo == c->topo);
    fuzz_check_topology(c->topo);
    FUZZ_CHECK(c->table.self >= 0 && (size_t)c->table.self < c->topo->nunits);
    FUZZ_CHECK(strcmp(c->topo->units[c->table.self].name, c->unit) == 0);
    FUZZ_CHECK(c->table.nentries <= ROUTE_ENTRIES_MAX && c->table.nsources <= ROUTE_SOURCES_MAX);
    for (size_t i = 0; i < c->table.nentries; i++) {
        const struct route_entry *e = &c->table.entries[i];
        FUZZ_CHECK(memchr(e->prefix, '\0', sizeof(e->prefix)) != NULL);
        FUZZ_CHECK((unsigned)e->type < ROUTE_TYPE_COUNT);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[1024], path[128];

    if (size < 1)
        return 0;
    fuzz_dir_get();
    err[0] = '\0';
    if (data[0] & 1) {
        if (fuzz_write("topology.conf", fuzz_fixed_topology, sizeof(fuzz_fixed_topology) - 1) < 0 ||
            fuzz_write("gateway.conf", data + 1, size - 1) < 0)
            return 0;
        snprintf(path, sizeof(path), "%s/gateway.conf", fuzz_dir);
        struct gw_config *c = gw_config_load(path, err, sizeof(err));
        FUZZ_CHECK(c != NULL || err[0] != '\0');
        if (c != NULL)
            fuzz_check_gw_config(c);
        gw_config_destroy(c);
    } else {
        if (fuzz_write("topology.conf", data + 1, size - 1) < 0)
            return 0;
        snprintf(path, sizeof(path), "%s/topology.conf", fuzz_dir);
        struct topology *t = topology_load(path, err, sizeof(err));
        FUZZ_CHECK(t != NULL || err[0] != '\0');
        if (t != NULL)
            fuzz_check_topology(t);
        topology_destroy(t);
    }
    return 0;
}
