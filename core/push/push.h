/* Pushing a repo's local overlay to the Hub as one commit, and the overlay bookkeeping behind
 * `hfrun status`, `hfrun discard` and `hfrun push`. Every function prints one "hfshim:" line per
 * failure; reports (plans, status lines) go to the FILE given. */
#pragma once
#include "checked.h"
#include <stdio.h>
#include "grammar.h"

/* Pushes every local change of the repo (its overlay's upper/ against the snapshot s->rev is
 * pinned to; "" = main) as ONE commit on that branch, with parentCommit = the pinned commit:
 * preupload decides regular or LFS, LFS files are uploaded first, small files go inline,
 * whiteouts become deletedFile/deletedFolder. If the branch moved meanwhile (412) and none of
 * the changed paths differ between the pinned commit and the new head, the commit is retried on
 * the head; otherwise nothing is pushed and the conflicting paths are named.
 * The overlay lock (<repo dir>/.lock) is held throughout.
 * Success (0, also when there is nothing to push): the pushed entries leave the overlay (those
 * unchanged since the scan), the Hub cache's refs/<branch> and this session's pin name the new
 * commit, whose sha goes to new_sha (if not NULL; "" when nothing was pushed).
 * Failure (negative errno): the overlay is untouched. -EPERM with HF_NO_PUSH=1, -ENOTSUP for a
 * bucket, -ESTALE on a conflict, -EACCES without write access, -EIO/-ENOENT/... otherwise.
 * dry_run: print the plan only. report may be NULL. */
HFS_MUST_CHECK int hfs_push_repo(const hfs_spec *s, const char *summary, int dry_run, FILE *report,
                                 char new_sha[41]);
