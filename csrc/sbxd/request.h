/* Request bodies: strict JSON parsing and validation, with no server state (a fuzz
 * target's entry point). Every refusal names the field. */
#ifndef SBXD_REQUEST_H
#define SBXD_REQUEST_H
#include "sbxd.h"

struct sbxd_create_req {
    json_t *root;              /* owns everything below */
    json_t *env, *metadata;    /* objects of strings, never NULL after parsing */
    double timeout;            /* lifetime, > 0 */
    int network;
    long memory_mb, pids;      /* limits; 0: none asked */
    double cpus;
};

struct sbxd_start_req {
    json_t *root;
    const char *cmd, *cwd, *user, *tag;   /* cwd, user, tag: NULL when absent */
    json_t *env;                          /* NULL when absent */
    double timeout;                       /* 0: none */
    double idle_timeout;                  /* 0: none; else reset by every chunk of output */
    unsigned char *stdin_data;            /* malloc'd, NULL when absent */
    size_t stdin_len;
    int background;                       /* lives on without a reader */
    int interactive;                      /* a WebSocket session's: its stdin stays open */
    int stdin_open;                       /* start{stdin_open}: stdin stays open after its bytes */
    int pty;                              /* pty{cols, rows}: runs on a terminal */
    unsigned cols, rows;                  /* the pty's size, 1..65535 */
};

int sbxd_parse_create(const char *body, size_t len, struct sbxd_create_req *out,
                      struct sbxd_err *err);
void sbxd_create_req_free(struct sbxd_create_req *r);
int sbxd_parse_start(const char *body, size_t len, struct sbxd_start_req *out,
                     struct sbxd_err *err);
/* The same from a JSON object already parsed (a WebSocket session's start message, which
 * holds a reference to it). */
int sbxd_parse_start_object(json_t *obj, struct sbxd_start_req *out, struct sbxd_err *err);
void sbxd_start_req_free(struct sbxd_start_req *r);
/* Whether the command's stdin stays open for the stdin route after the start's bytes: an
 * interactive one's, one started with stdin_open, and a background one's started without
 * stdin bytes. Bytes given in the start are otherwise the whole input: EOF follows them. */
int sbxd_start_keeps_stdin(const struct sbxd_start_req *r);
/* A terminal size, {"cols": C, "rows": R}, each a whole number 1..65535 (`field` names it
 * in a refusal). */
int sbxd_parse_winsize(json_t *v, const char *field, unsigned *cols, unsigned *rows, struct sbxd_err *err);
/* What a string of `len` bytes takes of execve's argument space: its bytes, its NUL and
 * its pointer (the kernel counts them so; see SBX_MAX_EXEC_TOTAL). */
size_t sbxd_exec_cost(size_t len);

/* What a JSON body's parse error says, in the words of this protocol: jansson refuses
 * \u0000 in strings (none of the strings it carries may hold one), and says so in its
 * own terms. */
const char *sbxd_json_error_text(const json_error_t *je);

/* {"signal": a number or a name ("SIGTERM", "TERM")}; absent or empty body: SIGKILL. */
int sbxd_parse_signal(const char *body, size_t len, int *sig, struct sbxd_err *err);
/* {"timeout": number > 0} */
int sbxd_parse_timeout(const char *body, size_t len, double *timeout, struct sbxd_err *err);

#endif
