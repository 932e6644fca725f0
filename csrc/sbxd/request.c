#include <signal.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "jbytes.h"
#include "protocol.h"
#include "request.h"

static int bad(struct sbxd_err *err, const char *fmt, const char *field)
{
    return sbxd_fail(err, 400, SBX_ERR_INVALID, fmt, field);
}

const char *sbxd_json_error_text(const json_error_t *je)
{
    if (json_error_code(je) == json_error_null_character)
        return "a string holds \\u0000: a command, a path, a name or an env entry cannot hold a NUL byte";
    return je->text;
}

/* The body as a JSON object; an empty body is an empty object when allow_empty. */
static json_t *parse_object(const char *body, size_t len, int allow_empty, struct sbxd_err *err)
{
    if (len == 0 && allow_empty) return json_object();
    json_error_t je;
    json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        sbxd_fail(err, 400, SBX_ERR_INVALID, "malformed JSON: %s", sbxd_json_error_text(&je));
        return NULL;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        bad(err, "the body must be a JSON object%s", "");
        return NULL;
    }
    return root;
}

/* Every key of `obj` must be in the NULL-terminated `allowed`. */
static int only_fields(json_t *obj, const char *const *allowed, struct sbxd_err *err)
{
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        const char *const *a = allowed;
        while (*a && strcmp(*a, key) != 0) a++;
        if (!*a) return bad(err, "unknown field '%s'", key);
    }
    return 0;
}

/* jansson refuses \u0000 in keys and strings unless asked to, so no NUL gets this far. */
static int string_map(json_t *v, const char *field, int env_names, struct sbxd_err *err)
{
    if (!json_is_object(v)) return bad(err, "'%s' must be an object of strings", field);
    const char *key;
    json_t *x;
    json_object_foreach(v, key, x) {
        if (!json_is_string(x)) return bad(err, "'%s' values must be strings", field);
        if (env_names && (!*key || strchr(key, '=')))
            return bad(err, "'%s' has an invalid variable name", field);
    }
    return 0;
}

/* A number of seconds: > 0, or >= 0 when zero_ok (0: no limit). JSON has no NaN or
 * infinity, but a fuzzed or hand-made body must not get one through either. */
static int seconds(json_t *v, const char *field, int zero_ok, double *out, struct sbxd_err *err)
{
    if (!json_is_number(v)) return bad(err, "'%s' must be a number", field);
    double d = json_number_value(v);
    if (!isfinite(d) || d < 0 || (d == 0 && !zero_ok))
        return bad(err, zero_ok ? "'%s' must be a non-negative number" : "'%s' must be a positive number",
                   field);
    *out = d;
    return 0;
}

size_t sbxd_exec_cost(size_t len)
{
    return len + 1 + sizeof(char *);
}

/* `cmd` within execve's bounds (it is one argument of /bin/sh -c). */
static int cmd_fits(const char *cmd, struct sbxd_err *err)
{
    size_t len = strlen(cmd);
    if (len >= SBX_MAX_ARG_STRLEN)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "'cmd' is too long: %zu bytes, at most %u",
                         len, SBX_MAX_ARG_STRLEN - 1);
    return 0;
}

/* An env object within execve's bounds: each NAME=VALUE one string, all of them together
 * within the total (sbxd_spawn checks the whole once the sandbox's env is merged in). */
static int env_fits(json_t *env, struct sbxd_err *err)
{
    size_t total = 0;
    const char *key;
    json_t *v;
    json_object_foreach(env, key, v) {
        size_t len = strlen(key) + 1 + json_string_length(v);
        if (len >= SBX_MAX_ARG_STRLEN)
            return sbxd_fail(err, 400, SBX_ERR_INVALID, "'env' entry '%.64s' is too long: %zu bytes, at most %u",
                             key, len, SBX_MAX_ARG_STRLEN - 1);
        total += sbxd_exec_cost(len);
    }
    if (total > SBX_MAX_EXEC_TOTAL)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "'env' is too big: %zu bytes in all, at most %u",
                         total, SBX_MAX_EXEC_TOTAL);
    return 0;
}

static const char *opt_string(json_t *obj, const char *field, int *failed, struct sbxd_err *err)
{
    json_t *v = json_object_get(obj, field);
    if (!v) return NULL;
    if (!json_is_string(v)) {
        *failed = bad(err, "'%s' must be a string", field);
        return NULL;
    }
    return json_string_value(v);
}

/* A whole number in [1, max]: a JSON integer, or a real with no fraction. */
static int whole(json_t *v, const char *name, long max, long *out, struct sbxd_err *err)
{
    double d = json_is_number(v) ? json_number_value(v) : 0;
    if (!json_is_number(v) || !(d >= 1) || d != (double)(long)d || d > (double)max)
        return sbxd_fail(err, 400, SBX_ERR_INVALID, "'%s' must be a whole number from 1 to %ld", name, max);
    *out = (long)d;
    return 0;
}

/* A sandbox's limits (docs/PROTOCOL.md); absent ones stay 0. */
static int limits(json_t *r, struct sbxd_create_req *out, struct sbxd_err *err)
{
    json_t *v;
    if ((v = json_object_get(r, "memory_mb")) && whole(v, "memory_mb", SBX_MAX_MEMORY_MB, &out->memory_mb, err))
        return -1;
    if ((v = json_object_get(r, "pids")) && whole(v, "pids", SBX_MAX_PIDS, &out->pids, err)) return -1;
    if ((v = json_object_get(r, "cpus"))) {
        double d = json_is_number(v) ? json_number_value(v) : 0;
        if (!json_is_number(v) || !(d >= 0.01 && d <= SBX_MAX_CPUS))
            return sbxd_fail(err, 400, SBX_ERR_INVALID, "'cpus' must be a number from 0.01 to %d", SBX_MAX_CPUS);
        out->cpus = d;
    }
    return 0;
}

int sbxd_parse_create(const char *body, size_t len, struct sbxd_create_req *out,
                      struct sbxd_err *err)
{
    static const char *const FIELDS[] = {"env", "timeout", "network", "metadata", "memory_mb", "pids", "cpus", NULL};
    memset(out, 0, sizeof *out);
    out->timeout = SBX_DEFAULT_LIFETIME;
    if (!(out->root = parse_object(body, len, 1, err))) return -1;
    json_t *r = out->root, *v;
    if (only_fields(r, FIELDS, err)) goto fail;
    if (sbxd_unwrap_bytes_values(json_object_get(r, "env"), "env", err)) goto fail;
    if ((v = json_object_get(r, "env")) && (string_map(v, "env", 1, err) || env_fits(v, err))) goto fail;
    out->env = v;
    if ((v = json_object_get(r, "metadata")) && string_map(v, "metadata", 0, err)) goto fail;
    out->metadata = v;
    if ((v = json_object_get(r, "timeout")) && seconds(v, "timeout", 0, &out->timeout, err)) goto fail;
    if ((v = json_object_get(r, "network"))) {
        if (!json_is_boolean(v)) { bad(err, "'%s' must be a boolean", "network"); goto fail; }
        out->network = json_is_true(v);
    }
    if (limits(r, out, err)) goto fail;
    if (!out->env) json_object_set_new(r, "env", out->env = json_object());
    if (!out->metadata) json_object_set_new(r, "metadata", out->metadata = json_object());
    return 0;
fail:
    sbxd_create_req_free(out);
    return -1;
}

void sbxd_create_req_free(struct sbxd_create_req *r)
{
    json_decref(r->root);
    memset(r, 0, sizeof *r);
}

static int decode_stdin(json_t *v, struct sbxd_start_req *out, struct sbxd_err *err)
{
    if (!json_is_string(v)) return bad(err, "'%s' must be a base64 string", "stdin");
    size_t n = json_string_length(v);
    out->stdin_data = malloc(b64_decoded_max(n) + 1);
    if (!out->stdin_data) return sbxd_fail(err, 500, SBX_ERR_SANDBOX, "out of memory");
    out->stdin_len = b64_decode(json_string_value(v), n, out->stdin_data);
    if (out->stdin_len == (size_t)-1) return bad(err, "'%s' is not valid base64", "stdin");
    return 0;
}

int sbxd_parse_winsize(json_t *v, const char *field, unsigned *cols, unsigned *rows, struct sbxd_err *err)
{
    static const char *const FIELDS[] = {"cols", "rows", NULL};
    long c, r;
    if (!json_is_object(v)) return bad(err, "'%s' must be an object {\"cols\": C, \"rows\": R}", field);
    if (only_fields(v, FIELDS, err)) return -1;
    json_t *jc = json_object_get(v, "cols"), *jr = json_object_get(v, "rows");
    if (!jc || !jr) return bad(err, "'%s' needs both cols and rows", field);
    if (whole(jc, "cols", 65535, &c, err) || whole(jr, "rows", 65535, &r, err)) return -1;
    *cols = (unsigned)c;
    *rows = (unsigned)r;
    return 0;
}

int sbxd_parse_start(const char *body, size_t len, struct sbxd_start_req *out,
                     struct sbxd_err *err)
{
    json_t *root = parse_object(body, len, 0, err);
    if (!root) return memset(out, 0, sizeof *out), -1;
    int rc = sbxd_parse_start_object(root, out, err);
    json_decref(root);
    return rc;
}

/* A start's fields of bytes (cmd, cwd, env values) as strings, whichever form they came in. */
static int unwrap_bytes(json_t *r, struct sbxd_err *err)
{
    return sbxd_unwrap_bytes_field(r, "cmd", err) || sbxd_unwrap_bytes_field(r, "cwd", err) ||
           sbxd_unwrap_bytes_values(json_object_get(r, "env"), "env", err);
}

int sbxd_parse_start_object(json_t *obj, struct sbxd_start_req *out, struct sbxd_err *err)
{
    static const char *const FIELDS[] = {"cmd", "cwd", "env", "user", "timeout", "idle_timeout", "stdin", "tag",
                                         "background", "stdin_open", "pty", NULL};
    memset(out, 0, sizeof *out);
    if (!json_is_object(obj)) return bad(err, "the start must be a JSON object%s", "");
    out->root = json_incref(obj);
    json_t *r = out->root, *v;
    int failed = 0;
    if (only_fields(r, FIELDS, err) || unwrap_bytes(r, err)) goto fail;
    out->cmd = opt_string(r, "cmd", &failed, err);
    if (failed) goto fail;
    if (!out->cmd || !*out->cmd) { bad(err, "'%s' must be a non-empty string", "cmd"); goto fail; }
    if (cmd_fits(out->cmd, err)) goto fail;
    out->cwd = opt_string(r, "cwd", &failed, err);
    if (!failed) out->user = opt_string(r, "user", &failed, err);
    if (!failed) out->tag = opt_string(r, "tag", &failed, err);
    if (failed) goto fail;
    if (out->tag && strlen(out->tag) > SBX_MAX_TAG) {
        sbxd_fail(err, 400, SBX_ERR_INVALID, "'tag' is too long: at most %u bytes", SBX_MAX_TAG);
        goto fail;
    }
    if ((v = json_object_get(r, "env")) && (string_map(v, "env", 1, err) || env_fits(v, err))) goto fail;
    out->env = v;
    if ((v = json_object_get(r, "timeout")) && seconds(v, "timeout", 1, &out->timeout, err)) goto fail;
    if ((v = json_object_get(r, "idle_timeout")) && seconds(v, "idle_timeout", 1, &out->idle_timeout, err))
        goto fail;
    if ((v = json_object_get(r, "stdin")) && decode_stdin(v, out, err)) goto fail;
    if ((v = json_object_get(r, "background"))) {
        if (!json_is_boolean(v)) { bad(err, "'%s' must be a boolean", "background"); goto fail; }
        out->background = json_is_true(v);
    }
    if ((v = json_object_get(r, "stdin_open"))) {
        if (!json_is_boolean(v)) { bad(err, "'%s' must be a boolean", "stdin_open"); goto fail; }
        out->stdin_open = json_is_true(v);
    }
    if ((v = json_object_get(r, "pty"))) {
        if (sbxd_parse_winsize(v, "pty", &out->cols, &out->rows, err)) goto fail;
        out->pty = 1;
    }
    return 0;
fail:
    sbxd_start_req_free(out);
    return -1;
}

int sbxd_start_keeps_stdin(const struct sbxd_start_req *r)
{
    return r->interactive || r->stdin_open || (r->background && !r->stdin_data);
}

void sbxd_start_req_free(struct sbxd_start_req *r)
{
    json_decref(r->root);
    free(r->stdin_data);
    memset(r, 0, sizeof *r);
}

int sbxd_parse_timeout(const char *body, size_t len, double *timeout, struct sbxd_err *err)
{
    static const char *const FIELDS[] = {"timeout", NULL};
    json_t *root = parse_object(body, len, 0, err);
    if (!root) return -1;
    json_t *v = json_object_get(root, "timeout");
    int rc = only_fields(root, FIELDS, err);
    if (!rc && !v) rc = bad(err, "'%s' is required", "timeout");
    if (!rc) rc = seconds(v, "timeout", 0, timeout, err);
    json_decref(root);
    return rc;
}

/* "SIGTERM" or "TERM": its number. */
static int signal_named(const char *name, int *sig)
{
    if (strncmp(name, "SIG", 3) == 0) name += 3;
    for (int s = 1; s < NSIG; s++) {
        const char *abbrev = sigabbrev_np(s);
        if (abbrev && strcmp(abbrev, name) == 0) return *sig = s, 0;
    }
    return -1;
}

int sbxd_parse_signal(const char *body, size_t len, int *sig, struct sbxd_err *err)
{
    static const char *const FIELDS[] = {"signal", NULL};
    json_t *root = parse_object(body, len, 1, err);
    if (!root) return -1;
    int rc = only_fields(root, FIELDS, err);
    json_t *v = json_object_get(root, "signal");
    *sig = SIGKILL;
    if (!rc && v && json_is_integer(v) && json_integer_value(v) > 0 && json_integer_value(v) < NSIG)
        *sig = (int)json_integer_value(v);
    else if (!rc && v && json_is_string(v) && signal_named(json_string_value(v), sig) == 0)
        ;
    else if (!rc && v)
        rc = bad(err, "'%s' must be a signal number or name, such as \"SIGTERM\"", "signal");
    json_decref(root);
    return rc;
}
