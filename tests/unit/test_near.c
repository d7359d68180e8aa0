/* Ancestors of mounts (core/vfs/vfs_near.c, hfs_vfs_open_near in core/vfs/vfs_open.c):
 * classification, the mount components a listing gains, virtual stat of missing ancestors. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "suites.h"
#include "vfs.h"

static char g_tmp[64];

/* Mounts at <tmp>/p/mnt (p exists) and <tmp>/q/a/b (q does not); the prefix stays /hf. */
static void setup(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/hfs-ut-near-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    char p[PATH_MAX], m[2 * PATH_MAX];
    snprintf(p, sizeof p, "%s/p", g_tmp);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(p, sizeof p, "%s/p/real", g_tmp);
    ck_assert_int_eq(mkdir(p, 0755), 0);
    snprintf(m, sizeof m, "%s/p/mnt=acme/x;%s/q/a/b=acme/y;%s/p/real=acme/z", g_tmp, g_tmp, g_tmp);
    setenv("HF_MOUNTS", m, 1);
    setenv("HF_HOME", g_tmp, 1);
    unsetenv("HF_SHIM_PREFIX");
    unsetenv("HF_SHIM_CACHE");
    setenv("HF_HUB_OFFLINE", "1", 1);
}

static void teardown(void)
{
    char cmd[PATH_MAX];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

static const char *at(const char *rel)
{
    static char buf[4][PATH_MAX];
    static int i;
    char *b = buf[i++ % 4];
    snprintf(b, PATH_MAX, "%s%s", g_tmp, rel);
    return b;
}

START_TEST(classify)
{
    ck_assert_int_eq(hfs_vfs_classify("/"), HFS_NS_NEAR); /* above /hf and every mount */
    ck_assert_int_eq(hfs_vfs_classify("/tmp"), HFS_NS_NEAR);
    ck_assert_int_eq(hfs_vfs_classify(g_tmp), HFS_NS_NEAR);
    ck_assert_int_eq(hfs_vfs_classify(at("/p")), HFS_NS_NEAR);
    ck_assert_int_eq(hfs_vfs_classify(at("/p/")), HFS_NS_NEAR);
    ck_assert_int_eq(hfs_vfs_classify(at("/p/./x/..")), HFS_NS_NEAR);
    ck_assert_int_eq(hfs_vfs_classify(at("/q/a")), HFS_NS_NEAR);
    ck_assert_int_eq(hfs_vfs_classify(at("/p/mnt")), HFS_NS_VIRTUAL);
    ck_assert_int_eq(hfs_vfs_classify(at("/p/mnt/f")), HFS_NS_VIRTUAL);
    ck_assert_int_eq(hfs_vfs_classify(at("/p/x/../mnt/f")), HFS_NS_VIRTUAL); /* ".." into it */
    ck_assert_int_eq(hfs_vfs_classify(at("/p/mnt/../x")), HFS_NS_REAL);      /* and out */
    ck_assert_int_eq(hfs_vfs_classify(at("/p/x")), HFS_NS_REAL);  /* a sibling of the mount */
    ck_assert_int_eq(hfs_vfs_classify(at("/p/mn")), HFS_NS_REAL); /* components, not bytes */
    ck_assert_int_eq(hfs_vfs_classify(at("/q/a/bb")), HFS_NS_REAL);
    ck_assert_int_eq(hfs_vfs_classify("/etc"), HFS_NS_REAL);
    ck_assert_int_eq(hfs_vfs_classify("/hf"), HFS_NS_VIRTUAL);
}
END_TEST

static int collect(const char *name, size_t n, void *arg)
{
    char *out = arg;
    strncat(out, name, n);
    strcat(out, " ");
    return 0;
}

START_TEST(children)
{
    char names[256] = "";
    ck_assert_int_eq(hfs_vfs_near_children(at("/p"), collect, names), 0);
    ck_assert_str_eq(names, "mnt real ");
    names[0] = 0;
    ck_assert_int_eq(hfs_vfs_near_children(at("/q"), collect, names), 0);
    ck_assert_str_eq(names, "a ");
    names[0] = 0;
    ck_assert_int_eq(hfs_vfs_near_children("/", collect, names), 0);
    ck_assert_str_eq(names, "hf tmp tmp tmp "); /* once per mount: callers dedupe */
}
END_TEST

START_TEST(missing_ancestor_stat)
{
    struct stat st, parent;
    ck_assert_int_eq(stat(g_tmp, &parent), 0);
    ck_assert_int_eq(hfs_vfs_near_stat(at("/q/a"), &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    ck_assert_int_eq(st.st_mode & 07777, 0555);
    ck_assert_uint_eq(st.st_dev, parent.st_dev); /* not a mount: the device of the real parent */
    struct stat again;
    ck_assert_int_eq(hfs_vfs_stat(at("/q/a"), &again), 0);
    ck_assert_uint_eq(again.st_ino, st.st_ino);
    ck_assert_int_eq(hfs_vfs_stat(at("/q"), &again), 0);
    ck_assert_uint_ne(again.st_ino, st.st_ino);
    /* A real ancestor is stat'ed really; a path that is no ancestor is not the core's. */
    ck_assert_int_eq(hfs_vfs_stat(at("/p"), &st), 0);
    ck_assert_int_eq(stat(at("/p"), &parent), 0);
    ck_assert_uint_eq(st.st_ino, parent.st_ino);
    ck_assert_int_eq(hfs_vfs_stat(at("/p/x"), &st), -ENOENT);
    /* A real file where an ancestor should be. */
    FILE *f = fopen(at("/q"), "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    ck_assert_int_eq(hfs_vfs_near_stat(at("/q/a"), &st), -ENOTDIR);
}
END_TEST

static const char *list(hfs_vobj *o)
{
    static char out[1024];
    out[0] = 0;
    hfs_dirent e;
    for (uint64_t pos = 2; hfs_vobj_readdir(o, pos, &e) == 1; pos++) {
        strcat(out, e.name);
        strcat(out, e.d_type == DT_DIR ? "/ " : " ");
    }
    return out;
}

START_TEST(listing)
{
    /* A real ancestor: its real entries, then the mount points that are not among them. */
    FILE *f = fopen(at("/p/file"), "w");
    ck_assert_ptr_nonnull(f);
    fclose(f);
    int rfd = open(at("/p"), O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge(rfd, 0);
    hfs_vobj *o;
    ck_assert_int_eq(hfs_vfs_open_near(at("/p"), rfd, 0, &o), rfd);
    ck_assert_int_eq(hfs_vobj_near(o), 1);
    const char *l = list(o);
    ck_assert_msg(strstr(l, "file ") && strstr(l, "real/ ") && strstr(l, "mnt/ "), "%s", l);
    ck_assert_msg(!strstr(strstr(l, "real/") + 1, "real/"),
                  "a real entry named like a mount is listed once: %s", l);
    hfs_vobj_unref(o);
    close(rfd);
    /* A missing one: an fd on its mirror directory, the mount components only. */
    int fd = hfs_vfs_open_near(at("/q"), -1, 0, &o);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(hfs_vobj_near(o), 2);
    ck_assert_str_eq(list(o), "a/ ");
    struct stat st;
    ck_assert_int_eq(hfs_vobj_stat_fd(o, fd, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    hfs_vobj_unref(o);
    close(fd);
    ck_assert_int_eq(access(at("/q"), F_OK), -1); /* nothing was created really */
}
END_TEST

Suite *suite_near(void)
{
    Suite *s = suite_create("near");
    TCase *tc = tcase_create("near");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, classify);
    tcase_add_test(tc, children);
    tcase_add_test(tc, missing_ancestor_stat);
    tcase_add_test(tc, listing);
    suite_add_tcase(s, tc);
    return s;
}
