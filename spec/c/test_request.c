/* sbxd's request-body parsing: every validation rule, each naming its field. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../csrc/sbxd/request.h"
#include "protocol.h"
#include "check.h"

static void start_refused(const char *body, const char *field)
{
    struct sbxd_start_req r;
    struct sbxd_err err = {0};
    int rc = sbxd_parse_start(body, strlen(body), &r, &err);
    CHECK(rc == -1 && err.status == 400 && strstr(err.message, field), "%s -> %d %s", body,
          err.status, err.message);
}

static void create_refused(const char *body, const char *field)
{
    struct sbxd_create_req r;
    struct sbxd_err err = {0};
    int rc = sbxd_parse_create(body, strlen(body), &r, &err);
    CHECK(rc == -1 && err.status == 400 && strstr(err.message, field), "%s -> %d %s", body,
          err.status, err.message);
}

static void test_start(void)
{
    struct sbxd_start_req r;
    struct sbxd_err err;
    const char *ok = "{\"cmd\":\"echo\",\"cwd\":\"/tmp\",\"env\":{\"A\":\"1\",\"B\":\"\"},\"user\":\"u\","
                     "\"timeout\":1.5,\"stdin\":\"YQBi\",\"background\":true}";
    CHECK(sbxd_parse_start(ok, strlen(ok), &r, &err) == 0, "%s", err.message);
    CHECK(!strcmp(r.cmd, "echo") && !strcmp(r.cwd, "/tmp") && !strcmp(r.user, "u"),
          "strings");
    CHECK(r.timeout == 1.5 && r.stdin_len == 3 && !memcmp(r.stdin_data, "a\0b", 3), "timeout, stdin");
    CHECK(r.background, "background");
    sbxd_start_req_free(&r);
    start_refused("{}", "cmd");
    start_refused("{\"cmd\":\"\"}", "cmd");
    start_refused("{\"cmd\":1}", "cmd");
    start_refused("{\"cmd\":\"x\",\"cwd\":1}", "cwd");
    start_refused("{\"cmd\":\"x\",\"user\":[]}", "user");
    start_refused("{\"cmd\":\"x\",\"env\":[]}", "env");
    start_refused("{\"cmd\":\"x\",\"env\":{\"A\":1}}", "env");
    start_refused("{\"cmd\":\"x\",\"env\":{\"A=B\":\"1\"}}", "env");
    start_refused("{\"cmd\":\"x\",\"env\":{\"\":\"1\"}}", "env");
    const char *zero = "{\"cmd\":\"x\",\"timeout\":0}";
    CHECK(sbxd_parse_start(zero, strlen(zero), &r, &err) == 0 && r.timeout == 0, "a zero timeout is none");
    sbxd_start_req_free(&r);
    start_refused("{\"cmd\":\"x\",\"timeout\":-1}", "timeout");
    start_refused("{\"cmd\":\"x\",\"timeout\":\"1\"}", "timeout");
    start_refused("{\"cmd\":\"x\",\"stdin\":\"%%%\"}", "stdin");
    start_refused("{\"cmd\":\"x\",\"stdin\":3}", "stdin");
    start_refused("{\"cmd\":\"x\",\"bogus\":3}", "bogus");
    start_refused("{\"cmd\":\"x\",\"background\":1}", "background");
    start_refused("{\"cmd\":\"a\\u0000b\"}", "malformed");
    start_refused("{\"cmd\":\"x\",\"cmd\":\"y\"}", "malformed");
    start_refused("[\"cmd\"]", "object");
    start_refused("", "malformed");
    start_refused("{\"cmd\":", "malformed");
}

static void test_create(void)
{
    struct sbxd_create_req r;
    struct sbxd_err err;
    CHECK(sbxd_parse_create("", 0, &r, &err) == 0 && r.timeout == 300 && json_object_size(r.env) == 0,
          "empty body: defaults");
    sbxd_create_req_free(&r);
    const char *ok = "{\"env\":{\"A\":\"1\"},\"timeout\":5,\"network\":true,\"metadata\":{\"k\":\"v\"}}";
    CHECK(sbxd_parse_create(ok, strlen(ok), &r, &err) == 0 && r.timeout == 5 && r.network, "%s", err.message);
    sbxd_create_req_free(&r);
    create_refused("{\"timeout\":0}", "timeout");
    create_refused("{\"timeout\":null}", "timeout");
    create_refused("{\"network\":1}", "network");
    create_refused("{\"metadata\":{\"k\":1}}", "metadata");
    create_refused("{\"env\":\"A=1\"}", "env");
    create_refused("{\"colour\":\"red\"}", "colour");
    create_refused("{", "malformed");
}

/* A JSON body {"cmd":"x","env":{...}} (or {"env":{...}} for create) with `n` variables
 * V0.. whose values are `len` bytes each; the cmd is `cmd_len` bytes. malloc'd. */
static char *sized_body(int create, size_t cmd_len, int n, size_t len)
{
    size_t cap = cmd_len + (size_t)n * (len + 32) + 64, used = 0;
    char *b = malloc(cap);
    used += (size_t)snprintf(b, cap, create ? "{\"env\":{" : "{\"cmd\":\"");
    if (!create) {
        memset(b + used, 'c', cmd_len);
        used += cmd_len;
        used += (size_t)snprintf(b + used, cap - used, "\",\"env\":{");
    }
    for (int i = 0; i < n; i++) {
        used += (size_t)snprintf(b + used, cap - used, "%s\"V%d\":\"", i ? "," : "", i);
        memset(b + used, 'v', len);
        used += len;
        b[used++] = '"';
    }
    snprintf(b + used, cap - used, "}}");
    return b;
}

static int sized_start_ok(size_t cmd_len, int n, size_t len, struct sbxd_err *err)
{
    struct sbxd_start_req r;
    char *body = sized_body(0, cmd_len, n, len);
    int rc = sbxd_parse_start(body, strlen(body), &r, err);
    if (rc == 0) sbxd_start_req_free(&r);
    free(body);
    return rc == 0;
}

/* execve's bounds: one string under 128 KiB with its NUL; env under 1 MiB in all. */
static void test_exec_bounds(void)
{
    struct sbxd_err err;
    CHECK(sized_start_ok(SBX_MAX_ARG_STRLEN - 1, 1, SBX_MAX_ARG_STRLEN - 4, &err), "just under: %s", err.message);
    CHECK(!sized_start_ok(SBX_MAX_ARG_STRLEN, 0, 0, &err) && err.status == 400 && strstr(err.message, "'cmd'"),
          "cmd: %s", err.message);
    CHECK(!sized_start_ok(1, 1, SBX_MAX_ARG_STRLEN - 3, &err) && strstr(err.message, "'env' entry 'V0'"),
          "env entry: %s", err.message);
    CHECK(!sized_start_ok(1, 9, 120 * 1024, &err) && strstr(err.message, "'env' is too big"), "env total: %s",
          err.message);
    struct sbxd_create_req c;
    char *body = sized_body(1, 0, 9, 120 * 1024);
    CHECK(sbxd_parse_create(body, strlen(body), &c, &err) == -1 && strstr(err.message, "'env'"), "create env: %s",
          err.message);
    free(body);
}

static void test_timeout(void)
{
    double t;
    struct sbxd_err err;
    CHECK(sbxd_parse_timeout("{\"timeout\":2}", 13, &t, &err) == 0 && t == 2, "timeout");
    CHECK(sbxd_parse_timeout("{}", 2, &t, &err) == -1 && strstr(err.message, "timeout"), "required");
    CHECK(sbxd_parse_timeout("{\"timeout\":1,\"x\":1}", 19, &t, &err) == -1, "unknown field");
}

/* pty{cols, rows}: whole numbers 1..65535, both, nothing else; the same for a resize. */
static void test_pty(void)
{
    struct sbxd_start_req r;
    struct sbxd_err err;
    const char *ok = "{\"cmd\":\"x\",\"pty\":{\"cols\":80,\"rows\":65535}}";
    CHECK(sbxd_parse_start(ok, strlen(ok), &r, &err) == 0, "%s", err.message);
    CHECK(r.pty && r.cols == 80 && r.rows == 65535, "pty %d %u %u", r.pty, r.cols, r.rows);
    sbxd_start_req_free(&r);
    const char *none = "{\"cmd\":\"x\"}";
    CHECK(sbxd_parse_start(none, strlen(none), &r, &err) == 0 && !r.pty, "no pty");
    sbxd_start_req_free(&r);
    start_refused("{\"cmd\":\"x\",\"pty\":true}", "'pty' must be an object");
    start_refused("{\"cmd\":\"x\",\"pty\":{\"cols\":80}}", "both cols and rows");
    start_refused("{\"cmd\":\"x\",\"pty\":{\"cols\":0,\"rows\":24}}", "'cols'");
    start_refused("{\"cmd\":\"x\",\"pty\":{\"cols\":80,\"rows\":65536}}", "'rows'");
    start_refused("{\"cmd\":\"x\",\"pty\":{\"cols\":80.5,\"rows\":24}}", "'cols'");
    start_refused("{\"cmd\":\"x\",\"pty\":{\"cols\":80,\"rows\":24,\"x\":1}}", "unknown field 'x'");
    unsigned cols, rows;
    json_t *v = json_pack("{s:i, s:i}", "cols", 132, "rows", 43);
    CHECK(sbxd_parse_winsize(v, "resize", &cols, &rows, &err) == 0 && cols == 132 && rows == 43, "resize");
    json_decref(v);
    v = json_pack("[i]", 1);
    CHECK(sbxd_parse_winsize(v, "resize", &cols, &rows, &err) == -1 && strstr(err.message, "'resize'"),
          "%s", err.message);
    json_decref(v);
}

int main(void)
{
    test_start();
    test_pty();
    test_create();
    test_timeout();
    test_exec_bounds();
    return check_report();
}
