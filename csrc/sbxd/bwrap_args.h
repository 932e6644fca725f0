/* bwrap's command line for one sandbox: what of the host it sees, and how. */
#ifndef SBXD_BWRAP_ARGS_H
#define SBXD_BWRAP_ARGS_H

#define SBXD_INIT_PATH "/run/sbx/init"   /* where the init is bound inside */

struct sbxd_bwrap_conf {
    const char *bwrap;        /* the program */
    const char *init;         /* the init's host path */
    const char *root;         /* sbxd's root: its etc is the sandbox's /etc */
    const char *dir;          /* the sandbox's directory: home and tmp */
    int network;              /* keep the host's network namespace */
    int single_uid;           /* bwrap makes the user namespace, mapping sbxd's uid onto
                                 the sandbox's `user` (sbxd is not root) */
    long nproc;               /* the init's RLIMIT_NPROC (its argv[2]), which its commands
                                 inherit: set inside the sandbox's user namespace, it
                                 bounds the processes of each of its uids there */
};

#define SBXD_ARGV_MAX 160
struct sbxd_argv {
    char *v[SBXD_ARGV_MAX];   /* NULL-terminated */
    int n;
    char text[8192];          /* the strings built for it */
    size_t used;
};

/* -1 when a path is too long for the buffers. */
int sbxd_bwrap_argv(const struct sbxd_bwrap_conf *c, struct sbxd_argv *a);

#endif
