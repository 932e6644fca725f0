/* sbxd's request-body parsing: every validation rule, each naming its field. */
#include <string.h>
#include "../../csrc/sbxd/request.h"
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
                     "\"timeout\":1.5,\"stdin\":\"YQBi\",\"tag\":\"t\"}";
    CHECK(sbxd_parse_start(ok, strlen(ok), &r, &err) == 0, "%s", err.message);
    CHECK(!strcmp(r.cmd, "echo") && !strcmp(r.cwd, "/tmp") && !strcmp(r.user, "u") && !strcmp(r.tag, "t"),
          "strings");
    CHECK(r.timeout == 1.5 && r.stdin_len == 3 && !memcmp(r.stdin_data, "a\0b", 3), "timeout, stdin");
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
    start_refused("{\"cmd\":\"x\",\"timeout\":0}", "timeout");
    start_refused("{\"cmd\":\"x\",\"timeout\":-1}", "timeout");
    start_refused("{\"cmd\":\"x\",\"timeout\":\"1\"}", "timeout");
    start_refused("{\"cmd\":\"x\",\"stdin\":\"%%%\"}", "stdin");
    start_refused("{\"cmd\":\"x\",\"stdin\":3}", "stdin");
    start_refused("{\"cmd\":\"x\",\"bogus\":3}", "bogus");
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

static void test_timeout(void)
{
    double t;
    struct sbxd_err err;
    CHECK(sbxd_parse_timeout("{\"timeout\":2}", 13, &t, &err) == 0 && t == 2, "timeout");
    CHECK(sbxd_parse_timeout("{}", 2, &t, &err) == -1 && strstr(err.message, "timeout"), "required");
    CHECK(sbxd_parse_timeout("{\"timeout\":1,\"x\":1}", 19, &t, &err) == -1, "unknown field");
}

int main(void)
{
    test_start();
    test_create();
    test_timeout();
    return check_report();
}
