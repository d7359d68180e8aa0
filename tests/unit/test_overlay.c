/* The overlay logic through the core's write API, on a snapshot whose tree index is prepared on
 * disk and pinned, so no network is involved. */
#include "suites.h"
#include "index.h"
#include "overlay.h"
#include "vfs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SHA "0123456789abcdef0123456789abcdef01234567"
#define R "/hf/acme/ov"

static char g_tmp[PATH_MAX];

static void add(hfs_index_builder *b, const char *path, int dir)
{
    hfs_tree_entry e;
    memset(&e, 0, sizeof e);
    e.path = path;
    e.is_dir = dir;
    e.size = 0; /* empty remote files: opening them needs no fetch */
    snprintf(e.oid, sizeof e.oid, "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391");
    e.mtime = 1700000000;
    ck_assert_int_eq(hfs_ib_add(b, &e, 0), 0);
}

static void setup(void)
{
    snprintf(g_tmp, sizeof g_tmp, "/tmp/hfs-ut-ov-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(g_tmp));
    char p[PATH_MAX + 64];
    setenv("HF_HOME", g_tmp, 1);
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_SHIM_CACHE");
    unsetenv("HF_SHIM_OVERLAY");
    unsetenv("HF_MOUNTS");
    unsetenv("HF_SHIM_PREFIX");
    setenv("HF_HUB_OFFLINE", "1", 1);
    setenv("HF_SHIM_PINS",
           "model:acme/ov@main=" SHA ";model:acme/ov2@main=" SHA ";model:acme/ov3@main=" SHA, 1);
    snprintf(p, sizeof p, "%s/hfshim/trees/models--acme--ov/" SHA ".idx", g_tmp);
    hfs_index_builder *b = hfs_ib_new();
    add(b, "README.md", 0);
    add(b, "a/x.txt", 0);
    add(b, "a/y.txt", 0);
    add(b, "a/sub/z.txt", 0);
    add(b, "b/only.txt", 0);
    add(b, "empty", 1);
    ck_assert_int_eq(hfs_ib_write(b, p, 1700000000), 0);
    snprintf(p, sizeof p, "%s/hfshim/trees/models--acme--ov2/" SHA ".idx", g_tmp);
    b = hfs_ib_new();
    add(b, "other.txt", 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 1700000000), 0);
    /* remote names that look like the overlay's own */
    snprintf(p, sizeof p, "%s/hfshim/trees/models--acme--ov3/" SHA ".idx", g_tmp);
    b = hfs_ib_new();
    add(b, ".wh.x", 0);
    add(b, ".wh..wh..opq", 0);
    add(b, ".x.wh.x", 0);
    add(b, ".wh.d/f", 0);
    add(b, "n", 0);
    ck_assert_int_eq(hfs_ib_write(b, p, 1700000000), 0);
}

static void teardown(void)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

/* Names in a virtual directory, sorted, joined by ' '. */
static const char *list(const char *vdir)
{
    static char out[4096];
    hfs_vobj *o;
    int fd = hfs_vfs_open(vdir, O_RDONLY | O_DIRECTORY, &o);
    ck_assert_int_ge(fd, 0);
    close(fd);
    char *names[256];
    int n = 0;
    hfs_dirent e;
    for (uint64_t pos = 2; hfs_vobj_readdir(o, pos, &e) == 1 && n < 256; pos++)
        names[n++] = strdup(e.name);
    hfs_vobj_unref(o);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (strcmp(names[i], names[j]) > 0) {
                char *t = names[i];
                names[i] = names[j];
                names[j] = t;
            }
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        strcat(out, i ? " " : "");
        strcat(out, names[i]);
        free(names[i]);
    }
    return out;
}

static void write_file(const char *vpath, const char *text, int flags)
{
    hfs_vobj *o;
    int fd = hfs_vfs_open2(vpath, O_WRONLY | O_CREAT | flags, 0644, &o);
    ck_assert_int_ge(fd, 0);
    ck_assert(hfs_vobj_is_local(o));
    ck_assert_int_eq(write(fd, text, strlen(text)), (int)strlen(text));
    close(fd);
    hfs_vobj_unref(o);
}

static const char *read_file(const char *vpath)
{
    static char buf[256];
    hfs_vobj *o;
    int fd = hfs_vfs_open(vpath, O_RDONLY, &o);
    ck_assert_int_ge(fd, 0);
    ssize_t n = read(fd, buf, sizeof buf - 1);
    buf[n > 0 ? n : 0] = 0;
    close(fd);
    hfs_vobj_unref(o);
    return buf;
}

static int exists(const char *vpath)
{
    struct stat st;
    return hfs_vfs_stat(vpath, &st) == 0;
}

START_TEST(remote_view_and_create)
{
    ck_assert_str_eq(list(R), "README.md a b empty");
    write_file(R "/new.txt", "hello", O_EXCL);
    ck_assert_str_eq(read_file(R "/new.txt"), "hello");
    ck_assert_str_eq(list(R), "README.md a b empty new.txt");
    hfs_vobj *o;
    ck_assert_int_eq(hfs_vfs_open2(R "/new.txt", O_WRONLY | O_CREAT | O_EXCL, 0644, &o), -EEXIST);
    ck_assert_int_eq(hfs_vfs_open2(R "/a", O_WRONLY, 0, &o), -EISDIR);
    ck_assert_int_eq(hfs_vfs_open2(R "/nodir/f", O_WRONLY | O_CREAT, 0644, &o), -ENOENT);
    ck_assert_int_eq(hfs_vfs_open2(R "/README.md/f", O_WRONLY | O_CREAT, 0644, &o), -ENOTDIR);
    /* writing a remote file copies it up; stat then shows the overlay's metadata */
    write_file(R "/a/x.txt", "local", O_TRUNC);
    struct stat st;
    ck_assert_int_eq(hfs_vfs_stat(R "/a/x.txt", &st), 0);
    ck_assert_int_eq(st.st_size, 5);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_str_eq(list(R "/a"), "sub x.txt y.txt");
}
END_TEST

START_TEST(unlink_rmdir_whiteouts)
{
    ck_assert_int_eq(hfs_vfs_unlink(R "/README.md"), 0);
    ck_assert(!exists(R "/README.md"));
    ck_assert_int_eq(hfs_vfs_unlink(R "/README.md"), -ENOENT);
    ck_assert_str_eq(list(R), "a b empty");
    ck_assert_int_eq(hfs_vfs_unlink(R "/a"), -EISDIR);
    ck_assert_int_eq(hfs_vfs_rmdir(R "/a"), -ENOTEMPTY);
    ck_assert_int_eq(hfs_vfs_rmdir(R "/README.md"), -ENOENT);
    ck_assert_int_eq(hfs_vfs_rmdir(R "/empty"), 0);
    ck_assert(!exists(R "/empty"));
    ck_assert_int_eq(hfs_vfs_unlink(R "/b/only.txt"), 0);
    ck_assert_str_eq(list(R "/b"), "");
    ck_assert_int_eq(hfs_vfs_rmdir(R "/b"), 0);
    ck_assert_str_eq(list(R), "a");
    ck_assert_int_eq(hfs_vfs_rmdir(R), -EBUSY);
    /* recreating a deleted remote dir gives an empty (opaque) one */
    ck_assert_int_eq(hfs_vfs_mkdir(R "/b", 0755), 0);
    ck_assert_str_eq(list(R "/b"), "");
    ck_assert(!exists(R "/b/only.txt"));
    ck_assert_int_eq(hfs_vfs_mkdir(R "/b", 0755), -EEXIST);
    ck_assert_int_eq(hfs_vfs_mkdir(R "/a", 0755), -EEXIST);
    /* the whiteouts are files in the overlay, never names in the view */
    char wh[PATH_MAX + 64];
    snprintf(wh, sizeof wh, "%s/hfshim/overlay/models--acme--ov/upper/.wh.README.md", g_tmp);
    ck_assert_int_eq(access(wh, F_OK), 0);
}
END_TEST

START_TEST(renames)
{
    /* file over a remote file, leaving a whiteout behind */
    ck_assert_int_eq(hfs_vfs_rename(R "/a/x.txt", R "/a/y.txt", 0), 0);
    ck_assert_str_eq(list(R "/a"), "sub y.txt");
    /* directory with remote content: copied up whole, source hidden */
    ck_assert_int_eq(hfs_vfs_rename(R "/a", R "/c", 0), 0);
    ck_assert(!exists(R "/a"));
    ck_assert(exists(R "/c/sub/z.txt"));
    ck_assert_str_eq(list(R "/c"), "sub y.txt");
    ck_assert_int_eq(hfs_vfs_rename(R "/c", R "/c/sub/in", 0), -EINVAL);
    ck_assert_int_eq(hfs_vfs_rename(R "/nope", R "/x", 0), -ENOENT);
    ck_assert_int_eq(hfs_vfs_rename(R "/README.md", R "/b", 0), -EISDIR);
    ck_assert_int_eq(hfs_vfs_rename(R "/b", R "/README.md", 0), -ENOTDIR);
    ck_assert_int_eq(hfs_vfs_rename(R "/b", R "/c", 0), -ENOTEMPTY);
    ck_assert_int_eq(hfs_vfs_rename(R "/README.md", R "/b/only.txt", RENAME_NOREPLACE), -EEXIST);
    write_file(R "/one", "1", 0);
    write_file(R "/two", "2", 0);
    ck_assert_int_eq(hfs_vfs_rename(R "/one", R "/two", RENAME_EXCHANGE), 0);
    ck_assert_str_eq(read_file(R "/one"), "2");
    ck_assert_str_eq(read_file(R "/two"), "1");
    ck_assert_int_eq(hfs_vfs_rename(R "/one", R "/three", RENAME_EXCHANGE), -ENOENT);
    ck_assert_int_eq(hfs_vfs_rename(R "/one", "/hf/acme/ov2/x", 0), -EXDEV);
    ck_assert_int_eq(hfs_vfs_link(R "/one", "/hf/acme/ov2/x"), -EXDEV);
    ck_assert_int_eq(hfs_vfs_rename(R "/one", "/hf/acme/missing/x", 0), -ENOENT);
}
END_TEST

START_TEST(links_and_metadata)
{
    ck_assert_int_eq(hfs_vfs_symlink("a/x.txt", R "/lnk"), 0);
    char buf[64];
    int n = hfs_vfs_readlink(R "/lnk", buf, sizeof buf);
    ck_assert_int_eq(n, 7);
    ck_assert(!memcmp(buf, "a/x.txt", 7));
    ck_assert_int_eq(hfs_vfs_readlink(R "/README.md", buf, sizeof buf), -EINVAL);
    struct stat st, lst;
    ck_assert_int_eq(hfs_vfs_stat(R "/lnk", &st), 0);
    ck_assert(S_ISREG(st.st_mode)); /* followed to the remote file */
    ck_assert_int_eq(hfs_vfs_lstat(R "/lnk", &lst), 0);
    ck_assert(S_ISLNK(lst.st_mode));
    ck_assert_int_eq(hfs_vfs_symlink("x", R "/lnk"), -EEXIST);
    write_file(R "/f", "data", 0);
    ck_assert_int_eq(hfs_vfs_link(R "/f", R "/g"), 0);
    ck_assert_str_eq(read_file(R "/g"), "data");
    ck_assert_int_eq(hfs_vfs_link(R "/a", R "/h"), -EPERM);
    ck_assert_int_eq(hfs_vfs_chmod(R "/README.md", 0600, 0), 0);
    ck_assert_int_eq(hfs_vfs_stat(R "/README.md", &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    struct timespec ts[2] = {{.tv_sec = 1000}, {.tv_sec = 2000}};
    ck_assert_int_eq(hfs_vfs_utimens(R "/a/y.txt", ts, 0), 0);
    ck_assert_int_eq(hfs_vfs_stat(R "/a/y.txt", &st), 0);
    ck_assert_int_eq(st.st_mtime, 2000);
    write_file(R "/t", "123456", 0);
    ck_assert_int_eq(hfs_vfs_truncate(R "/t", 2), 0);
    ck_assert_str_eq(read_file(R "/t"), "12");
    ck_assert_int_eq(hfs_vfs_truncate(R "/a", 0), -EISDIR);
    char lp[PATH_MAX];
    ck_assert_int_eq(hfs_vfs_local_path(R "/b/only.txt", 0, lp, sizeof lp), 0);
    ck_assert_int_eq(access(lp, F_OK), 0);
    ck_assert_int_eq(hfs_vfs_local_path(R "/b/new", 1, lp, sizeof lp), 0);
    ck_assert_int_eq(hfs_vfs_local_path(R "/b/missing", 0, lp, sizeof lp), -ENOENT);
    /* pseudo directories above repos stay read-only */
    ck_assert_int_eq(hfs_vfs_mkdir("/hf/acme/newrepo", 0755), -EROFS);
}
END_TEST

static const char *kind_of(const char *stored)
{
    static char out[NAME_MAX + 16];
    const char *vn;
    static const char *k[] = {"entry", "whiteout", "opaque", "internal"};
    int kind = hfs_ov_name_kind(stored, &vn);
    snprintf(out, sizeof out, "%s %s", k[kind], vn);
    return out;
}

START_TEST(stored_names)
{
    char b[PATH_MAX];
    ck_assert_int_eq(hfs_ov_escape(".wh.x/rest", 5, b, sizeof b), 0);
    ck_assert_str_eq(b, ".wh..wh..esc.wh.x");
    ck_assert_int_eq(hfs_ov_escape(".x.wh.x", 7, b, sizeof b), 0);
    ck_assert_str_eq(b, ".x.wh.x");
    ck_assert_int_eq(hfs_ov_escape(".wh.x", 5, b, 12), -ENAMETOOLONG);
    ck_assert_int_eq(hfs_ov_path("/u", ".wh.d/.wh..wh..opq/n", b, sizeof b), 0);
    ck_assert_str_eq(b, "/u/.wh..wh..esc.wh.d/.wh..wh..esc.wh..wh..opq/n");
    ck_assert_int_eq(hfs_ov_path("/u", "", b, sizeof b), 0);
    ck_assert_str_eq(b, "/u");
    ck_assert_int_eq(hfs_ov_wh_path("/u", ".wh.d/.wh.x", b, sizeof b), 0);
    ck_assert_str_eq(b, "/u/.wh..wh..esc.wh.d/.wh..wh..wh..esc.wh.x");
    ck_assert_int_eq(hfs_ov_wh_path("/u", "a", b, sizeof b), 0);
    ck_assert_str_eq(b, "/u/.wh.a");
    ck_assert_str_eq(kind_of("plain"), "entry plain");
    ck_assert_str_eq(kind_of(".hidden"), "entry .hidden");
    ck_assert_str_eq(kind_of(".wh..wh..esc.wh.x"), "entry .wh.x");
    ck_assert_str_eq(kind_of(".wh.plain"), "whiteout plain");
    ck_assert_str_eq(kind_of(".wh..hidden"), "whiteout .hidden");
    ck_assert_str_eq(kind_of(".wh..x.wh.x"), "whiteout .x.wh.x"); /* never ".wh.x" itself */
    ck_assert_str_eq(kind_of(".wh..wh..wh..esc.wh.x"), "whiteout .wh.x");
    ck_assert_str_eq(kind_of(".wh..wh..opq"), "opaque .wh..wh..opq");
    ck_assert_str_eq(kind_of(".wh..wh..tmp.12.ab"), "internal .wh..wh..tmp.12.ab");
    ck_assert_str_eq(kind_of(".wh..wh..escplain"), "internal .wh..wh..escplain");
    ck_assert_str_eq(kind_of(".wh."), "internal .wh.");
}
END_TEST

#define R3 "/hf/acme/ov3"

START_TEST(whiteout_like_names)
{
    ck_assert_str_eq(list(R3), ".wh..wh..opq .wh.d .wh.x .x.wh.x n");
    /* deleting one hides exactly that one: no collision with a dotfile's whiteout */
    ck_assert_int_eq(hfs_vfs_unlink(R3 "/.x.wh.x"), 0);
    ck_assert_str_eq(list(R3), ".wh..wh..opq .wh.d .wh.x n");
    ck_assert_int_eq(hfs_vfs_unlink(R3 "/.wh..wh..opq"), 0);
    ck_assert_str_eq(list(R3), ".wh.d .wh.x n"); /* and the directory did not turn opaque */
    ck_assert(!exists(R3 "/.wh..wh..opq"));
    ck_assert_int_eq(hfs_vfs_rename(R3 "/.wh.d", R3 "/.wh.e", 0), 0);
    ck_assert_str_eq(list(R3), ".wh.e .wh.x n");
    ck_assert_str_eq(list(R3 "/.wh.e"), "f");
    ck_assert_int_eq(hfs_vfs_rename(R3 "/.wh.x", R3 "/.wh.e/.wh..wh..opq", 0), 0);
    ck_assert_str_eq(list(R3 "/.wh.e"), ".wh..wh..opq f");
    /* local names like markers are ordinary files too */
    write_file(R3 "/.wh.n", "local", O_EXCL);
    ck_assert_str_eq(read_file(R3 "/.wh.n"), "local");
    ck_assert_str_eq(list(R3), ".wh.e .wh.n n"); /* ".wh.n" hides nothing */
    ck_assert_int_eq(hfs_vfs_mkdir(R3 "/.wh.d", 0755), 0);
    ck_assert_str_eq(list(R3 "/.wh.d"), ""); /* the deleted remote one stays deleted */
    ck_assert_int_eq(hfs_vfs_rmdir(R3 "/.wh.d"), 0);
    ck_assert_int_eq(hfs_vfs_unlink(R3 "/.wh.n"), 0);
    ck_assert_str_eq(list(R3), ".wh.e n");
}
END_TEST

Suite *suite_overlay(void)
{
    Suite *s = suite_create("overlay");
    TCase *tc = tcase_create("overlay");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, remote_view_and_create);
    tcase_add_test(tc, unlink_rmdir_whiteouts);
    tcase_add_test(tc, renames);
    tcase_add_test(tc, links_and_metadata);
    tcase_add_test(tc, stored_names);
    tcase_add_test(tc, whiteout_like_names);
    suite_add_tcase(s, tc);
    return s;
}
