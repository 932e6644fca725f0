/* An attach request's parameters: offset and serial as whole numbers that fit 64 bits,
 * Last-Event-ID over the offset whatever their order, every other name or form a 400;
 * and the Accept values that ask for frames. */
#include <string.h>
#include "../../csrc/sbxd/attach_req.h"
#include "check.h"

static int param(struct sbxd_attach_req *r, const char *p)
{
    struct sbxd_err err;
    int rc = sbxd_attach_param(r, p, strlen(p), &err);
    if (rc) CHECK(err.status == 400, "%s: a 400", p);
    return rc;
}

static void test_params(void)
{
    struct sbxd_attach_req r;
    sbxd_attach_init(&r);
    CHECK(!param(&r, "offset=12") && !param(&r, "serial=18446744073709551615"), "accepted");
    CHECK(r.offset == 12 && r.serial == UINT64_MAX && r.has_serial, "values");
    const char *bad[] = {"offset=", "offset=-1", "offset=+1", "offset=1.0", "offset=0x1", "offset= 1",
                         "offset=18446744073709551616", "serial=a", "offset", "foo=1", "=1", "offsets=1"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sbxd_attach_init(&r);
        CHECK(param(&r, bad[i]) != 0, "refused: %s", bad[i]);
    }
    sbxd_attach_init(&r);
    CHECK(!param(&r, "serial=1") && param(&r, "serial=1"), "a repeated name is refused");
}

static void test_last_event_id(void)
{
    struct sbxd_attach_req r;
    struct sbxd_err err;
    sbxd_attach_init(&r);
    CHECK(!sbxd_attach_last_event_id(&r, " 7 ", 3, &err) && !param(&r, "offset=3"), "accepted");
    CHECK(r.offset == 7, "Last-Event-ID wins over a later offset: %llu", (unsigned long long)r.offset);
    sbxd_attach_init(&r);
    CHECK(!param(&r, "offset=3") && !sbxd_attach_last_event_id(&r, "9", 1, &err) && r.offset == 9,
          "and over an earlier one");
    CHECK(sbxd_attach_last_event_id(&r, "x", 1, &err) && err.status == 400, "a bad one is a 400");
    CHECK(sbxd_attach_last_event_id(&r, "", 0, &err) && err.status == 400, "an empty one too");
}

static int frames(const char *accept)
{
    return sbxd_wants_frames(accept, accept ? strlen(accept) : 0);
}

static void test_accept(void)
{
    CHECK(frames("application/vnd.sbx.frames"), "alone");
    CHECK(frames("Application/VND.sbx.Frames; q=1, text/event-stream"), "first, with parameters");
    CHECK(frames(" application/vnd.sbx.frames ,*/*"), "blanks around it");
    CHECK(!frames("text/event-stream, application/vnd.sbx.frames"), "not first");
    CHECK(!frames("application/vnd.sbx.framesx"), "a longer name");
    CHECK(!frames("*/*") && !frames("") && !frames(NULL), "anything else");
}

int main(void)
{
    test_params();
    test_last_event_id();
    test_accept();
    return check_report();
}
