/* Baseline for bench/spawn_rtt.lua: a minimal WebSocket client on the same kind of loop
 * as sbx's (an lws client context on an application's libuv loop, run with uv_run),
 * talking to websocketd running cat. One sample: a line sent as one binary message, and
 * the time until all of it came back.
 *
 *   ws_baseline PORT       connects to ws://127.0.0.1:PORT/; then for each line N read
 *                          on stdin, makes N round trips and prints their durations in
 *                          microseconds, one per line (flushed). EOF ends it. */
#include <libwebsockets.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

static const char LINE[] = "a line of about forty bytes, through cat\n";

struct client {
    uv_loop_t loop;
    struct lws_context *ctx;
    struct lws *wsi;
    int open, failed, want_send;
    size_t got;                          /* bytes of the echo received */
    unsigned char out[LWS_PRE + sizeof LINE];
};

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in,
                    size_t len)
{
    struct client *c = lws_context_user(lws_get_context(wsi));
    (void)user;
    (void)in;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED: c->open = 1; break;
    case LWS_CALLBACK_CLIENT_RECEIVE: c->got += len; break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (!c->want_send) break;
        c->want_send = 0;
        memcpy(c->out + LWS_PRE, LINE, sizeof LINE - 1);
        if (lws_write(wsi, c->out + LWS_PRE, sizeof LINE - 1, LWS_WRITE_BINARY) < 0) return -1;
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
    case LWS_CALLBACK_CLIENT_CLOSED: c->failed = 1; break;
    default: break;
    }
    return 0;
}

static const struct lws_protocols PROTOCOLS[] = {
    {"baseline", callback, 0, 4096, 0, NULL, 0}, {NULL, NULL, 0, 0, 0, NULL, 0}};

static void run_until(struct client *c, int *flag)
{
    while (!*flag && !c->failed) uv_run(&c->loop, UV_RUN_ONCE);
}

static double round_trip(struct client *c)
{
    double t0 = now_us();
    c->got = 0;
    c->want_send = 1;
    lws_callback_on_writable(c->wsi);
    int done = 0;
    while (!done && !c->failed) {
        uv_run(&c->loop, UV_RUN_ONCE);
        done = c->got >= sizeof LINE - 1;
    }
    return now_us() - t0;
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: ws_baseline PORT\n");
        return 2;
    }
    static struct client c;
    uv_loop_init(&c.loop);
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[] = {&c.loop};
    info.options = LWS_SERVER_OPTION_LIBUV;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = PROTOCOLS;
    info.user = &c;
    info.gid = info.uid = -1;
    lws_set_log_level(LLL_ERR, NULL);
    c.ctx = lws_create_context(&info);
    struct lws_client_connect_info i;
    memset(&i, 0, sizeof i);
    i.context = c.ctx;
    i.address = "127.0.0.1";
    i.port = atoi(argv[1]);
    i.path = "/";
    i.host = "127.0.0.1";
    i.origin = "127.0.0.1";
    i.protocol = PROTOCOLS[0].name;
    c.wsi = c.ctx ? lws_client_connect_via_info(&i) : NULL;
    if (!c.wsi) return 1;
    run_until(&c, &c.open);
    if (c.failed) {
        fprintf(stderr, "ws_baseline: cannot connect to websocketd on port %s\n", argv[1]);
        return 1;
    }
    long n;
    while (scanf("%ld", &n) == 1) {
        for (long k = 0; k < n; k++) printf("%.1f\n", round_trip(&c));
        fflush(stdout);
    }
    lws_context_destroy(c.ctx);
    return c.failed;
}
