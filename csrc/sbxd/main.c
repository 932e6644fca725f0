/* sbxd: the daemon that owns sandboxes. Single-threaded: libwebsockets on a libuv loop
 * that sbxd owns, which also carries the processes' pipes, timers and signals. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <malloc.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>
#include "http.h"
#include "isolation.h"
#include "launch.h"
#include "listen.h"
#include "connwatch.h"
#include "cpusched.h"
#include "protocol.h"

/* The most descriptors sbxd asks for: lws keeps two tables of one entry per possible
 * descriptor, sized from the limit when its context is created. */
#define FD_LIMIT_CAP 1048576
#define SBXD_STR_(x) #x
#define SBXD_STR(x) SBXD_STR_(x)

struct options {
    struct sbxd_listen_addr listen[SBXD_MAX_LISTEN];
    const char *listen_spec[SBXD_MAX_LISTEN];   /* as given, for messages */
    int nlisten, parent_fd, ready_fd;
    const char *isolation, *bwrap, *init;
};

static const char USAGE[] =
    "usage: sbxd --listen ADDR [options]\n"
    "  --listen ADDR      IPv4:PORT, [IPv6]:PORT, localhost:PORT or unix:PATH (PORT 0: any free); repeatable\n"
    "  --api-key KEY      bearer key: at most 4096 bytes, no control character (default $SBXD_API_KEY); required on TCP\n"
    "  --root DIR         where sandbox directories live (default: a fresh temporary dir)\n"
    "  --isolation MODE   bwrap (default: namespaces, an init per sandbox) or none (unisolated)\n"
    "  --bwrap PATH       the bubblewrap program (default: bwrap on PATH)\n"
    "  --init PATH        the in-sandbox init (default: sbx-init beside sbxd)\n"
    "  --max-body BYTES   largest request body accepted (default 16777216)\n"
    "  --keepalive SECS   keep-alive interval of streams and WebSocket pings (default 15)\n"
    "  --max-sandboxes N  most sandboxes alive at once; more get 429 (default 1000)\n"
    "  --max-procs N      most processes started and not yet reaped; more get 429 (default 10000)\n"
    "  --default-pids N   most processes a sandbox may have without create{pids} (default 1024)\n"
    "  --warm N           sandboxes started ahead for creates with the defaults (default 1; 0: none)\n"
    "  --max-log BYTES    output a process's log keeps for attach (default 16777216)\n"
    "  --max-logs BYTES   output all logs together keep (default 536870912)\n"
    "  --resume-grace SECS how long a cut foreground command waits for a reader (default 10)\n"
    "  --parent-fd N      exit, killing every command, when fd N reaches EOF\n"
    "  --ready-fd N       write 'ready ADDR...' to fd N once listening, then close it\n"
    "  --node N           one of several sbxd behind a proxy: ids are sbx_N_<hex> (0 to 9999)\n"
    "  --cgroup-delegated its cgroup v2 group is its own (a container's, a unit with Delegate=yes):\n"
    "                     it moves into a leaf there and hands memory, pids and cpu to sandboxes\n"
    "  --quiet            no log output\n"
    "  --version          print the version and exit\n"
    "  --help             print this help and exit\n";

/* Whether a client can send `key` as it is in "Authorization: Bearer KEY": a header
 * field's value holds no control character, and loses the spaces at its ends. */
static int key_fits_header(const char *key)
{
    size_t n = strlen(key);
    if (key[0] == ' ' || key[n - 1] == ' ') return 0;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        if (*c < 0x20 || *c == 0x7f) return 0;
    return 1;
}

static void usage_error(const char *msg)
{
    fprintf(stderr, "sbxd: %s\n%s", msg, USAGE);
    exit(2);
}

static void add_listen(struct options *o, const char *spec)
{
    char err[160];
    if (o->nlisten == SBXD_MAX_LISTEN) usage_error("too many --listen");
    if (sbxd_listen_parse(spec, &o->listen[o->nlisten], err, sizeof err) != 0) {
        fprintf(stderr, "sbxd: --listen %s: %s\n", spec, err);
        exit(2);
    }
    o->listen_spec[o->nlisten++] = spec;
}

static double parse_number(const char *s, const char *what)
{
    char *end;
    double d = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(d > 0) || !isfinite(d)) usage_error(what);
    return d;
}

static int parse_count(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno || n <= 0 || n > INT_MAX) usage_error(what);
    return (int)n;
}

/* A number of seconds >= 0. */
static double parse_seconds0(const char *s, const char *what)
{
    char *end;
    double d = strtod(s, &end);
    if (*s == '\0' || *end != '\0' || !(d >= 0) || !isfinite(d)) usage_error(what);
    return d;
}

/* A node number: 0 to SBXD_NODE_MAX, digits only (it is part of every id). */
static int parse_node(const char *s)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (*s < '0' || *s > '9' || *end != '\0' || errno || n > SBXD_NODE_MAX)
        usage_error("--node must be a whole number from 0 to " SBXD_STR(SBXD_NODE_MAX));
    return (int)n;
}

/* 0 to 64. */
static int parse_count0(const char *s, const char *what)
{
    char *end;
    errno = 0;
    long n = strtol(s, &end, 10);
    if (*s == '\0' || *end != '\0' || errno || n < 0 || n > 64) usage_error(what);
    return (int)n;
}

/* A copy of the key, and its original (in argv or the environment, which
 * /proc/PID/cmdline and /proc/PID/environ show) overwritten: sbxd's own memory is the
 * only place it stays. */
static const char *keep_secret(char *original)
{
    char *copy = strdup(original);
    if (!copy) {
        fprintf(stderr, "sbxd: out of memory\n");
        exit(1);
    }
    memset(original, 'x', strlen(original));
    return copy;
}

/* Descriptors 0, 1 and 2 are open (on /dev/null when sbxd got them closed): otherwise
 * the first ones sbxd opens (the event loop's, a command's pipe) would take their
 * numbers, and a command's dup2 onto 0-2 or libuv's checks would close or refuse them. */
static void keep_std_fds_open(void)
{
    for (int fd = 0; fd < 3; fd++)
        if (fcntl(fd, F_GETFD) < 0 && open("/dev/null", O_RDWR) < 0) return;
}

static void parse_args(int argc, char **argv, struct sbxd_server *srv, struct options *o)
{
    static const struct option LONG[] = {
        {"listen", 1, 0, 'l'}, {"api-key", 1, 0, 'k'},  {"root", 1, 0, 'r'},
        {"max-body", 1, 0, 'b'}, {"keepalive", 1, 0, 'a'}, {"parent-fd", 1, 0, 'p'},
        {"ready-fd", 1, 0, 'f'}, {"quiet", 0, 0, 'q'},    {"version", 0, 0, 'v'},
        {"help", 0, 0, 'h'},     {"max-sandboxes", 1, 0, 'S'}, {"max-procs", 1, 0, 'P'},
        {"isolation", 1, 0, 'I'}, {"bwrap", 1, 0, 'B'}, {"init", 1, 0, 'N'}, {"default-pids", 1, 0, 'D'},
        {"warm", 1, 0, 'W'},     {"max-log", 1, 0, 'L'}, {"max-logs", 1, 0, 'A'},
        {"resume-grace", 1, 0, 'G'}, {"node", 1, 0, 'n'}, {"cgroup-delegated", 0, 0, 'C'},
        {0, 0, 0, 0}};
    int ch;
    while ((ch = getopt_long(argc, argv, "", LONG, NULL)) != -1) {
        switch (ch) {
        case 'l': add_listen(o, optarg); break;
        case 'k': srv->api_key = optarg; break;
        case 'r': srv->root = strdup(optarg); break;
        case 'b': srv->max_body = (size_t)parse_number(optarg, "--max-body must be a positive number"); break;
        case 'a': srv->keepalive = parse_number(optarg, "--keepalive must be a positive number"); break;
        case 'p': o->parent_fd = (int)parse_number(optarg, "--parent-fd must be a descriptor"); break;
        case 'f': o->ready_fd = (int)parse_number(optarg, "--ready-fd must be a descriptor"); break;
        case 'S': srv->max_sandboxes = parse_count(optarg, "--max-sandboxes must be a positive integer"); break;
        case 'P': srv->max_procs = parse_count(optarg, "--max-procs must be a positive integer"); break;
        case 'D': srv->default_pids = parse_count(optarg, "--default-pids must be a positive integer"); break;
        case 'W': srv->warm_target = parse_count0(optarg, "--warm must be a whole number from 0 to 64"); break;
        case 'L': srv->max_log = (uint64_t)parse_number(optarg, "--max-log must be a positive number"); break;
        case 'A': srv->max_logs = (uint64_t)parse_number(optarg, "--max-logs must be a positive number"); break;
        case 'G': srv->resume_grace = parse_seconds0(optarg, "--resume-grace must be a number >= 0"); break;
        case 'n': srv->node = parse_node(optarg); break;
        case 'q': srv->quiet = 1; break;
        case 'C': srv->cgroup_delegated = 1; break;
        case 'I':
            if (strcmp(optarg, "bwrap") && strcmp(optarg, "none")) usage_error("--isolation is bwrap or none");
            o->isolation = optarg;
            break;
        case 'B': o->bwrap = optarg; break;
        case 'N': o->init = optarg; break;
        case 'v': printf("sbxd %s\n", SBX_VERSION); exit(0);
        case 'h': fputs(USAGE, stdout); exit(0);
        default: usage_error("unknown option");
        }
    }
    if (optind < argc) usage_error("unexpected argument");
    if (o->nlisten == 0) usage_error("--listen is required");
    if (!srv->api_key && getenv("SBXD_API_KEY")) srv->api_key = getenv("SBXD_API_KEY");
    if (srv->api_key && !*srv->api_key) srv->api_key = NULL;
    if (srv->api_key && strlen(srv->api_key) > SBXD_KEY_MAX)
        usage_error("the API key is longer than " SBXD_STR(SBXD_KEY_MAX) " bytes");
    if (srv->api_key && !key_fits_header(srv->api_key))
        usage_error("the API key must have no control character (CR, LF, tab, ...) and no space at either end:"
                    " clients send it in an HTTP header");
    if (srv->api_key) srv->api_key = keep_secret((char *)srv->api_key);
    for (int i = 0; i < o->nlisten; i++)
        if (o->listen[i].sa.ss_family != AF_UNIX && !srv->api_key)
            usage_error("a TCP listener needs --api-key");
}

/* Binds every listener; appends each one's actual address to `ready`. */
static int open_listeners(struct sbxd_listeners *ls, const struct options *o, char *ready, size_t rlen)
{
    char err[256], name[160];
    for (int i = 0; i < o->nlisten; i++) {
        if (sbxd_listen_open(ls, &o->listen[i], err, sizeof err) != 0)
            return fprintf(stderr, "sbxd: cannot listen on %s: %s\n", o->listen_spec[i], err), -1;
        if (sbxd_listen_name(&ls->l[i], name, sizeof name) != 0)
            return fprintf(stderr, "sbxd: %s: getsockname: %s\n", o->listen_spec[i], strerror(errno)), -1;
        size_t used = strlen(ready);
        snprintf(ready + used, rlen - used, " %s", name);
    }
    return 0;
}

static struct sbxd_server *the_server; /* for the shutdown path of signal callbacks */

static void request_stop(struct sbxd_server *srv)
{
    srv->stopping = 1;
    uv_stop(&srv->loop);
}

static void on_signal(uv_signal_t *s, int signum)
{
    (void)signum;
    request_stop(s->data);
}

static void on_child_exit(uv_poll_t *h, int status, int events)
{
    (void)status, (void)events;
    struct sbxd_server *srv = h->data;
    struct signalfd_siginfo si[8]; /* SIGCHLD does not queue: one read takes what is pending */
    if (read(srv->sigchld_fd, si, sizeof si) < 0 && errno != EAGAIN && errno != EINTR) return;
    sbxd_proc_reap(srv);
}

static void on_parent(uv_poll_t *h, int status, int events)
{
    (void)events;
    struct sbxd_server *srv = h->data;
    char buf[64];
    ssize_t n = status < 0 ? 0 : read(srv->parent_fd, buf, sizeof buf);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) request_stop(srv);
}

/* Exits come through a signalfd, SIGCHLD blocked: epoll reports one along with the
 * command's pipe ends, where a handler would interrupt the wait, run (with libuv's
 * three syscalls) and make the loop poll again, on the path of every run's answer.
 * Commands start with no signal blocked (launch.c). */
static int watch_children(struct sbxd_server *srv)
{
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    signal(SIGCHLD, SIG_DFL); /* inherited ignored, it would reap every command unseen */
    sigprocmask(SIG_BLOCK, &chld, NULL);
    srv->sigchld_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
    if (srv->sigchld_fd < 0 || uv_poll_init(&srv->loop, &srv->sigchld, srv->sigchld_fd) != 0) return -1;
    srv->sigchld.data = srv;
    /* What exited before SIGCHLD was blocked left no signal to read: the init of the
     * isolation probe's sandbox, say, adopted when the probe's bwrap was reaped. */
    sbxd_proc_reap(srv);
    return uv_poll_start(&srv->sigchld, UV_READABLE, on_child_exit);
}

static int watch_signals(struct sbxd_server *srv)
{
    uv_signal_t *sigs[] = {&srv->sigterm, &srv->sigint};
    int nums[] = {SIGTERM, SIGINT};
    for (int i = 0; i < 2; i++) {
        uv_signal_init(&srv->loop, sigs[i]);
        sigs[i]->data = srv;
        uv_signal_start(sigs[i], on_signal, nums[i]);
    }
    return watch_children(srv);
}

/* Orphans below sbxd come to it, not to the host's PID 1, which in a container may reap
 * nothing: a sandbox's init whose bwrap died first (a kill takes both), a command's own
 * children left behind (--isolation none). sbxd_proc_reap takes every child that exits,
 * its own commands' and these alike. Before the first fork: a process forked earlier
 * would still leave its orphans to PID 1. */
static void adopt_orphans(void)
{
    prctl(PR_SET_CHILD_SUBREAPER, 1);
}

/* Our parent holds the write end; EOF means it is gone, however it died. */
static void watch_parent(struct sbxd_server *srv, int fd)
{
    srv->parent_fd = fd;
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    uv_poll_init(&srv->loop, &srv->parent, fd);
    srv->parent.data = srv;
    uv_poll_start(&srv->parent, UV_READABLE | UV_DISCONNECT, on_parent);
}

static int make_root(struct sbxd_server *srv)
{
    if (srv->root) return mkdir(srv->root, 0700) == 0 || errno == EEXIST ? 0 : -1;
    const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    /* As root, sandboxes' own users must pass through it (isolation.c) */
    if (geteuid() == 0 && (tmp[0] != '/' || !sbxd_searchable_by_all(tmp))) tmp = "/tmp";
    size_t len = strlen(tmp) + 16;
    srv->root = malloc(len);
    if (!srv->root) return -1;
    snprintf(srv->root, len, "%s/sbxd-XXXXXX", tmp);
    srv->own_root = 1;
    return mkdtemp(srv->root) ? 0 : -1;
}

/* FD_LIMIT_CAP, or the kernel's ceiling (fs.nr_open) when lower. */
static rlim_t fd_limit_cap(void)
{
    unsigned long nr_open;
    rlim_t cap = FD_LIMIT_CAP;
    FILE *f = fopen("/proc/sys/fs/nr_open", "r");
    if (!f) return cap;
    if (fscanf(f, "%lu", &nr_open) == 1 && nr_open < cap) cap = nr_open;
    fclose(f);
    return cap;
}

/* Raises the soft descriptor limit to the hard one, and the hard one too where sbxd may
 * (CAP_SYS_RESOURCE, as root), both capped by fd_limit_cap: a limit inherited from a
 * shell (often 1024) would refuse connections early. Before lws' context, which sizes its
 * tables from the limit then. Never lowers a limit. */
static void raise_fd_limit(struct rlimit *started)
{
    struct rlimit lim;
    rlim_t cap = fd_limit_cap();
    if (getrlimit(RLIMIT_NOFILE, &lim) != 0) return;
    *started = lim;
    if (lim.rlim_cur >= cap) return;
    if (lim.rlim_max < cap) {
        struct rlimit both = {cap, cap};
        if (setrlimit(RLIMIT_NOFILE, &both) == 0) return;
    }
    lim.rlim_cur = lim.rlim_max < cap ? lim.rlim_max : cap;
    setrlimit(RLIMIT_NOFILE, &lim);
}

/* WebSocket keep-alive, lws' own: a ping after `keepalive` seconds without a pong (or
 * another message: ws_in.c), a hang-up after 3 keep-alives and 1 s. lws counts whole
 * seconds: a shorter interval is rounded up. */
static uint16_t whole_seconds(double seconds, unsigned most)
{
    if (!(seconds < most)) return (uint16_t)most;
    unsigned n = (unsigned)seconds;
    return (uint16_t)(n < seconds ? n + 1 : n);
}

static const lws_retry_bo_t *ws_keepalive(double keepalive)
{
    static lws_retry_bo_t policy;
    policy.secs_since_valid_ping = whole_seconds(keepalive, 65534);
    policy.secs_since_valid_hangup = whole_seconds(3 * keepalive + 1, 65535);
    return &policy;
}

/* The lws context, and its one vhost: without a listener of its own, it takes the
 * connections sbxd accepts (accept.c). */
static struct lws_vhost *start_lws(struct sbxd_server *srv)
{
    struct lws_context_creation_info info;
    memset(&info, 0, sizeof info);
    void *loops[] = {&srv->loop};
    info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_EXPLICIT_VHOSTS;
    info.foreign_loops = loops;
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.user = srv;
    info.pcontext = &srv->lws;
    /* What lws reads from a socket at once (default 4 KiB): a request body of megabytes
     * (stdin) would take a loop turn per 4 KiB. */
    info.pt_serv_buf_size = 65536;
    sbxd_head_limits(&info);
    lws_set_log_level(srv->quiet ? 0 : LLL_ERR, NULL);
    srv->lws = lws_create_context(&info);
    if (!srv->lws || sbxd_connwatch_open(srv, sbxd_conn_event) != 0) return NULL;
    struct lws_context_creation_info vi;
    memset(&vi, 0, sizeof vi);
    vi.retry_and_idle_policy = ws_keepalive(srv->keepalive);
    vi.protocols = sbxd_protocols;
    vi.options = LWS_SERVER_OPTION_LIBUV;
    vi.vhost_name = "sbxd";
    vi.port = CONTEXT_PORT_NO_LISTEN_SERVER;
    return lws_create_vhost(srv->lws, &vi);
}

static void note_closing(uv_handle_t *h, void *arg)
{
    if (uv_is_closing(h)) *(int *)arg = 1;
}

static int has_closing(uv_loop_t *loop)
{
    int closing = 0;
    uv_walk(loop, note_closing, &closing);
    return closing;
}

static void close_any(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h)) uv_close(h, NULL);
}

/* Everything goes: the listeners, commands, sandboxes, the lws context (two destroys on
 * a foreign loop: the first starts closing lws' handles, the second frees it), our
 * handles, the root. */
static void shutdown_server(struct sbxd_server *srv, struct sbxd_listeners *ls)
{
    srv->stopping = 1;
    sbxd_listen_close(ls);
    sbxd_connwatch_close(srv); /* no stream event after its process is freed */
    struct sbxd_sandbox *box;
    while ((box = sbxd_sandbox_first(srv))) sbxd_sandbox_destroy(box, "sandbox_killed");
    sbxd_sandbox_free_warm(srv);
    sbxd_sandbox_bury_all(srv);
    sbxd_isolation_close(srv);
    sbxd_proc_free_all(srv);
    sbxd_proc_reap(srv); /* the sandboxes' ends, which are left to nobody else */
    uv_poll_stop(&srv->sigchld);
    close(srv->sigchld_fd);
    lws_context_destroy(srv->lws);
    while (has_closing(&srv->loop)) uv_run(&srv->loop, UV_RUN_NOWAIT);
    lws_context_destroy(srv->lws);
    uv_walk(&srv->loop, close_any, NULL);
    uv_run(&srv->loop, UV_RUN_DEFAULT);
    uv_loop_close(&srv->loop);
    if (srv->own_root) sbxd_remove_tree(srv->root);
    free(srv->root);
    free((char *)srv->api_key);
    free((char *)srv->bwrap);
    free((char *)srv->init);
}

/* A command's output passes through records of up to 1 MiB (proc.h, SBXD_HEAVY_READ),
 * allocated as it is read and freed as the log drops it: a gigabyte is a thousand of
 * them. glibc maps blocks of that size afresh, or trims its heap top once 128 KiB are
 * free there, so each came back as fresh pages, a fault per page inside the pipe read.
 * Blocks below 4 MiB come from the heap instead, and up to 64 MiB of it may stay free
 * for the next ones. (Other allocators ignore this; sanitizers' too.) */
static void keep_freed_memory(void)
{
    mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
    mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
}

int main(int argc, char **argv)
{
    static struct sbxd_server srv;
    static struct sbxd_listeners listeners; /* its handles outlive every loop run */
    struct options o = {.parent_fd = -1, .ready_fd = -1};
    srv.max_body = SBX_DEFAULT_MAX_BODY;
    srv.keepalive = SBX_DEFAULT_KEEPALIVE;
    srv.max_sandboxes = SBX_DEFAULT_MAX_SANDBOXES;
    srv.node = -1;
    sbx_list_init(&srv.boxes);
    sbx_list_init(&srv.procs);
    sbx_list_init(&srv.kept);
    srv.max_log = SBX_DEFAULT_MAX_LOG;
    srv.max_logs = SBX_DEFAULT_MAX_LOGS;
    srv.resume_grace = SBX_DEFAULT_RESUME_GRACE;
    sbx_list_init(&srv.corpses);
    sbx_list_init(&srv.warm);
    srv.warm_target = 1;
    srv.max_procs = SBX_DEFAULT_MAX_PROCS;
    srv.default_pids = SBX_DEFAULT_PIDS;
    keep_std_fds_open();
    keep_freed_memory();
    adopt_orphans();
    parse_args(argc, argv, &srv, &o);
    struct rlimit nofile = {RLIM_INFINITY, RLIM_INFINITY};
    raise_fd_limit(&nofile);
    sbxd_sched_init();
    signal(SIGPIPE, SIG_IGN);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL); /* a host's blocked mask would hide SIGTERM, SIGINT */
    the_server = &srv;
    if (make_root(&srv) != 0) return fprintf(stderr, "sbxd: cannot create the root directory\n"), 1;
    if (sbxd_isolation_setup(&srv, o.isolation, o.bwrap, o.init) != 0) {
        free(srv.root);
        return 1;
    }
    uv_loop_init(&srv.loop);
    if (watch_signals(&srv) != 0) return fprintf(stderr, "sbxd: cannot watch for exits\n"), 1;
    if (o.parent_fd >= 0) watch_parent(&srv, o.parent_fd);
    char ready[1024] = "ready";
    listeners.quiet = srv.quiet;
    struct lws_vhost *vhost = start_lws(&srv);
    if (!vhost) fprintf(stderr, "sbxd: cannot start the HTTP server\n");
    int ok = vhost && open_listeners(&listeners, &o, ready, sizeof ready) == 0 &&
             sbxd_accept_start(&listeners, &srv.loop, vhost) == 0;
    if (ok) {
        sbxd_launch_init(&nofile);
        if (o.ready_fd >= 0 && dprintf(o.ready_fd, "%s\n", ready) > 0) close(o.ready_fd);
        keep_std_fds_open(); /* the ready fd may have been one of them */
        if (!srv.quiet) fprintf(stderr, "sbxd: %s\n", ready);
        if (o.parent_fd >= 0 && getppid() == 1) request_stop(&srv); /* parent already gone */
        if (!srv.stopping) uv_run(&srv.loop, UV_RUN_DEFAULT);
    }
    shutdown_server(&srv, &listeners);
    return ok ? 0 : 1;
}
