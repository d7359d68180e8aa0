/* Plain LD_PRELOAD without hfrun: a process that wrote under a mount pushes its repos' local
 * changes when it exits (hfrun pushes once at the end of its session instead; HF_NO_PUSH=1
 * never pushes). Processes that never write pay nothing: the handler is registered on the first
 * write. */
#include "config.h"
#include "proc.h"
#include "push.h"
#include "vfs_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_REPOS 16

static hfs_spec g_written[MAX_REPOS]; /* what this process wrote */
static int g_n;
static int g_registered;
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;

void hfs_exit_push_atfork_child(void)
{
    /* A forked child that calls exit() must not push its parent's work a second time: it
     * starts with nothing written (the handler it inherited stays registered). */
    pthread_mutex_t fresh = PTHREAD_MUTEX_INITIALIZER;
    g_lock = fresh;
    g_n = 0;
}

static void push_all(void)
{
    char msg[256];
    snprintf(msg, sizeof msg, "Upload from %s (hfshim)", program_invocation_short_name);
    /* Each failure has printed its line and kept the changes for the next push. */
    for (int i = 0; i < g_n; i++)
        if (hfs_push_repo(&g_written[i], msg, 0, NULL, NULL)) {
        }
}

/* Called by exit(), from the program, outside the core: the push (libcurl included) is run
 * inside it, as a wrapped call's would be. */
static void push_at_exit(void)
{
    if (!hfs_proc_is_owner()) return; /* a vfork child that called exit() */
    void (*in_core)(void (*)(void)) = hfs_proc_run_in_core;
    if (in_core)
        in_core(push_all);
    else
        push_all();
}

void hfs_note_write(const hfs_repo *r)
{
    const hfs_config *c = hfs_cfg();
    /* A vfork child's writes are pushed by whoever writes next (its memory is its parent's). */
    if (!r || c->no_push || c->session[0] || !hfs_proc_is_owner()) return;
    pthread_mutex_lock(&g_lock);
    int known = 0;
    for (int i = 0; i < g_n && !known; i++)
        known = g_written[i].repo.type == r->spec.repo.type &&
                !strcmp(g_written[i].repo.id, r->spec.repo.id) &&
                !strcmp(g_written[i].rev, r->spec.rev);
    if (!known && g_n < MAX_REPOS) g_written[g_n++] = r->spec;
    if (!g_registered) g_registered = !atexit(push_at_exit);
    pthread_mutex_unlock(&g_lock);
}
