/* Handing cgroup v2 controllers down from the group sbxd was started in, where that group
 * is sbxd's to manage (sbxd --cgroup-delegated: a container's own cgroup namespace, a
 * systemd unit with Delegate=yes). Inside the cgroup module only. */
#ifndef SBXD_CGROUP_DELEGATE_H
#define SBXD_CGROUP_DELEGATE_H

/* Enables each of names[0..n) that v2 group `own` has (its cgroup.controllers) in its
 * cgroup.subtree_control. A group other than the root hands a controller down only while
 * no process is in it, and the kernel refuses with EBUSY otherwise: then every process of
 * `own` moves into its child group `leaf` (made if missing), and the enabling is tried
 * again. Returns how many processes moved (0 when none had to), or -1 with errno when a
 * controller stays off. */
int sbxd_cg_delegate(const char *own, const char *leaf, const char *const names[], int n);

#endif
