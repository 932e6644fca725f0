/* An intrusive doubly linked list: the node lives inside the object it links, so an object
 * can sit in several lists at once and leave any of them in O(1), with no allocation.
 *
 * A list is a head whose ends meet (sbx_list_init); a node is unlinked when both its
 * pointers are NULL, which is what a zeroed (calloc'd) object holds, so nodes need no
 * initialisation and removing an unlinked node does nothing. */
#ifndef SBX_LIST_H
#define SBX_LIST_H
#include <stddef.h>

struct sbx_list {
    struct sbx_list *prev, *next;
};

/* The object of type `type` whose member `member` is the node `node`. */
#define sbx_list_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

/* Iterates over the nodes of `head`, oldest first; `node` may be removed in the body, as
 * `next` is taken before it runs. */
#define sbx_list_each_safe(node, next, head) \
    for ((node) = (head)->next, (next) = (node)->next; (node) != (head); \
         (node) = (next), (next) = (node)->next)

#define sbx_list_each(node, head) for ((node) = (head)->next; (node) != (head); (node) = (node)->next)

static inline void sbx_list_init(struct sbx_list *head)
{
    head->prev = head->next = head;
}

static inline int sbx_list_empty(const struct sbx_list *head)
{
    return head->next == head;
}

static inline int sbx_list_linked(const struct sbx_list *node)
{
    return node->next != NULL;
}

static inline void sbx_list_insert_between(struct sbx_list *node, struct sbx_list *prev,
                                           struct sbx_list *next)
{
    node->prev = prev;
    node->next = next;
    prev->next = node;
    next->prev = node;
}

/* Appends node (which must be unlinked) at the tail. */
static inline void sbx_list_push_back(struct sbx_list *head, struct sbx_list *node)
{
    sbx_list_insert_between(node, head->prev, head);
}

/* Puts node (which must be unlinked) at the head. */
static inline void sbx_list_push_front(struct sbx_list *head, struct sbx_list *node)
{
    sbx_list_insert_between(node, head, head->next);
}

/* Unlinks node from whatever list holds it; nothing when it is unlinked. */
static inline void sbx_list_remove(struct sbx_list *node)
{
    if (!sbx_list_linked(node)) return;
    node->prev->next = node->next;
    node->next->prev = node->prev;
    node->prev = node->next = NULL;
}

/* The node at the head, or NULL when the list is empty. */
static inline struct sbx_list *sbx_list_first(const struct sbx_list *head)
{
    return sbx_list_empty(head) ? NULL : head->next;
}

/* The node at the tail, or NULL when the list is empty. */
static inline struct sbx_list *sbx_list_last(const struct sbx_list *head)
{
    return sbx_list_empty(head) ? NULL : head->prev;
}

#endif
