/* Small-file prefetch: a process that opens the files of a repo in listing order (a directory's
 * files by name, a depth-first tree walk as `cat` of a glob, `tar`, `cp -r`, `find -exec` make)
 * gets the next small files fetched ahead of it, several at once over one transfer run
 * (net.h's fetch_feed: HTTP/2 streams where the server offers them), by a background thread.
 *
 * It starts when two files are opened one after the other in that order and the second is not
 * local yet; the files queued ahead grow from PF_START to PF_MAX_AHEAD while the reader keeps
 * to the order, bounded in bytes too; larger files are left to the read-ahead. An open that
 * breaks the order cancels what is queued and in flight. Prefetched files are claimed chunk by
 * chunk like any fetch (chunkclaim.h), so a reader that gets there first waits for them rather
 * than fetching them again, and they are checked and published as any download is. A failed
 * prefetch is a debug line: the reader fetches the file itself and reports. */
#pragma once
#include "repo.h"

/* A remote file of r (entry e) was opened for reading; cold: its bytes are not all local. */
void hfs_prefetch_opened(hfs_repo *r, const hfs_ientry *e, int cold);
/* In a forked child: the parent's thread and queue are not the child's. */
void hfs_prefetch_atfork_child(void);
