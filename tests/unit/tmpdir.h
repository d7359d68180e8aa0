/* A scratch directory per test: created in setup, removed in teardown. */
#pragma once
#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

static inline int hfs_ut_rm_one(const char *p, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(p);
}

/* $TMPDIR (or /tmp)/hfs-ut-<tag>-XXXXXX */
static inline void hfs_ut_mkdtemp(char *dir, size_t n, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(dir, n, "%s/hfs-ut-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static inline void hfs_ut_rmtree(const char *dir)
{
    nftw(dir, hfs_ut_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}
