/* The users a sandbox knows: its /etc/passwd names exactly these. A command runs as one
 * of them, `user` by default. */
#ifndef SBXD_USERS_H
#define SBXD_USERS_H

#define SBXD_HOME "/home/user"   /* the sandbox's home: every command's default cwd */

struct sbxd_user {
    const char *name;
    unsigned uid, gid;
    const char *home, *shell;
};

/* The default user, "user" (uid 1000). */
const struct sbxd_user *sbxd_user_default(void);
/* NULL when the sandbox has no such user. */
const struct sbxd_user *sbxd_user_find(const char *name);
/* The sandbox's /etc/passwd and /etc/group: written into `buf`; -1 when it is too small. */
int sbxd_users_passwd(char *buf, size_t len);
int sbxd_users_group(char *buf, size_t len);

#endif
