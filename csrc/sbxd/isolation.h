/* How sandboxes are isolated, decided once at start: bubblewrap and an init per
 * sandbox, or (--isolation none) a directory and sbxd's own processes. */
#ifndef SBXD_ISOLATION_H
#define SBXD_ISOLATION_H
#include "sbxd.h"

/* `mode` "bwrap" (the default, NULL) or "none"; `bwrap` and `init` the programs' paths,
 * NULL to find them (bwrap on PATH, sbx-init beside sbxd). Writes the root's shared
 * /etc and removes a previous sbxd's sandbox directories. A missing program does not
 * fail the start: sandboxes are refused with srv->no_isolation saying why. Isolated,
 * opens the cgroups sbxd can write (srv->cgroups) and removes a previous sbxd's. -1 (a
 * message printed) when another sbxd holds the root; else 0. */
int sbxd_isolation_setup(struct sbxd_server *srv, const char *mode, const char *bwrap, const char *init);
/* At shutdown, after every sandbox is gone: sbxd's parent cgroups are removed. */
void sbxd_isolation_close(struct sbxd_server *srv);

#endif
