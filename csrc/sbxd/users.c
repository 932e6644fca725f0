#include <stdio.h>
#include <string.h>
#include "users.h"

static const struct sbxd_user USERS[] = {
    {"root", 0, 0, "/root", "/bin/sh"},
    {"user", 1000, 1000, SBXD_HOME, "/bin/sh"},
    {"nobody", 65534, 65534, "/nonexistent", "/usr/sbin/nologin"},
};
#define NUSERS (sizeof USERS / sizeof USERS[0])

/* The group of each user's gid, in the same order. */
static const char *const GROUPS[NUSERS] = {"root", "user", "nogroup"};

const struct sbxd_user *sbxd_user_default(void)
{
    return &USERS[1];
}

const struct sbxd_user *sbxd_user_find(const char *name)
{
    for (size_t i = 0; i < NUSERS; i++)
        if (strcmp(USERS[i].name, name) == 0) return &USERS[i];
    return NULL;
}

int sbxd_users_passwd(char *buf, size_t len)
{
    size_t used = 0;
    for (size_t i = 0; i < NUSERS; i++) {
        const struct sbxd_user *u = &USERS[i];
        int n = snprintf(buf + used, len - used, "%s:x:%u:%u:%s:%s:%s\n", u->name, u->uid, u->gid,
                         u->name, u->home, u->shell);
        if (n < 0 || (size_t)n >= len - used) return -1;
        used += (size_t)n;
    }
    return 0;
}

int sbxd_users_group(char *buf, size_t len)
{
    size_t used = 0;
    for (size_t i = 0; i < NUSERS; i++) {
        int n = snprintf(buf + used, len - used, "%s:x:%u:\n", GROUPS[i], USERS[i].gid);
        if (n < 0 || (size_t)n >= len - used) return -1;
        used += (size_t)n;
    }
    return 0;
}
