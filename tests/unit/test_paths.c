/* hfs_path_normalize (core/vfs/vfs.h, core/vfs/paths.c): lexical normalization of any path
 * spelling. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include "suites.h"
#include "vfs.h"

/* Normalizes and checks both the result and the returned length. */
#define NORM(base, p, want)                                                                        \
    do {                                                                                           \
        char out_[PATH_MAX];                                                                       \
        int r_ = hfs_path_normalize(base, p, out_, sizeof out_);                                   \
        ck_assert_msg(r_ >= 0, "normalize(%s, \"%s\") = %d", #base, p, r_);                        \
        ck_assert_str_eq(out_, want);                                                              \
        ck_assert_int_eq(r_, (int)strlen(want));                                                   \
    } while (0)

START_TEST(collapse)
{
    NORM(NULL, "//hf///a/./b/../c", "/hf/a/c");
    NORM(NULL, "/hf/a/b", "/hf/a/b");
    NORM(NULL, "/hf", "/hf");
    NORM(NULL, "/", "/");
    NORM(NULL, "///", "/");
    NORM(NULL, "/./././hf/.", "/hf");
    NORM(NULL, "/hf/a/b/c/../../d", "/hf/a/d");
    NORM(NULL, "/hf/..a/b..", "/hf/..a/b..");         /* not "." or ".." components */
    NORM(NULL, "/hf/.hidden/...", "/hf/.hidden/..."); /* "..." is a name */
    NORM(NULL, "/hf/acme/tiny@refs%2Fpr%2F1/x", "/hf/acme/tiny@refs%2Fpr%2F1/x");
    NORM(NULL, "/hf/\xc3\xa9t\xc3\xa9/../caf\xc3\xa9", "/hf/caf\xc3\xa9");
}
END_TEST

START_TEST(dotdot_above_root)
{
    NORM(NULL, "/..", "/");
    NORM(NULL, "/../..", "/");
    NORM(NULL, "/../../hf/x", "/hf/x");
    NORM(NULL, "/hf/../../../etc", "/etc");
    NORM(NULL, "/hf/a/../..", "/");
    NORM("/", "..", "/");
    NORM("/a", "../../../b", "/b");
}
END_TEST

START_TEST(relative)
{
    NORM("/hf/acme", "tiny/config.json", "/hf/acme/tiny/config.json");
    NORM("/hf/acme/", "./tiny//x", "/hf/acme/tiny/x");
    NORM("/hf/acme/tiny", "../other/x", "/hf/acme/other/x");
    NORM("/home/u", "../../hf/a", "/hf/a");
    NORM("//hf//a/./", "b", "/hf/a/b");      /* the base is normalized too */
    NORM("/hf/a/b/..", "c", "/hf/a/c");      /* ".." in the base */
    NORM("/ignored/base", "/hf/a", "/hf/a"); /* an absolute path ignores the base */
    NORM(NULL, "a/b", "/a/b");               /* no base: relative to "/" */
}
END_TEST

START_TEST(trailing_and_dot)
{
    NORM(NULL, "/hf/a/", "/hf/a");
    NORM(NULL, "/hf/a//", "/hf/a");
    NORM(NULL, "/hf/a/.", "/hf/a");
    NORM(NULL, "/hf/a/./", "/hf/a");
    NORM(NULL, "/hf/a/b/..", "/hf/a");
    NORM(NULL, "/hf/a/b/../", "/hf/a");
    NORM("/hf/x", ".", "/hf/x");
    NORM("/hf/x", "./", "/hf/x");
    NORM("/hf/x", "..", "/hf");
    NORM("/", ".", "/");
}
END_TEST

START_TEST(empty)
{
    NORM("/hf/x", "", "/hf/x"); /* empty relative path: the base itself */
    NORM(NULL, "", "/");
    NORM("/", "", "/");
}
END_TEST

START_TEST(too_long)
{
    char out[8];
    /* Exactly fits: 7 characters + NUL. */
    ck_assert_int_eq(hfs_path_normalize(NULL, "/abcdef", out, sizeof out), 7);
    ck_assert_str_eq(out, "/abcdef");
    ck_assert_int_eq(hfs_path_normalize(NULL, "/abc/ef", out, sizeof out), 7);
    ck_assert_str_eq(out, "/abc/ef");
    ck_assert_int_eq(hfs_path_normalize(NULL, "/abcdefg", out, sizeof out), -ENAMETOOLONG);
    ck_assert_int_eq(hfs_path_normalize(NULL, "/abc/efg", out, sizeof out), -ENAMETOOLONG);
    ck_assert_int_eq(hfs_path_normalize("/abcd", "efgh", out, sizeof out), -ENAMETOOLONG);
    /* Long spellings that shrink are fine. */
    ck_assert_int_eq(hfs_path_normalize(NULL, "/a/./././././././././b/../c//////", out, sizeof out),
                     4);
    ck_assert_str_eq(out, "/a/c");
    /* Degenerate buffers. */
    ck_assert_int_eq(hfs_path_normalize(NULL, "/", out, 1), -ENAMETOOLONG);
    ck_assert_int_eq(hfs_path_normalize(NULL, "/", out, 2), 1);
    ck_assert_str_eq(out, "/");
    ck_assert_int_eq(hfs_path_normalize(NULL, "/a", out, 2), -ENAMETOOLONG);

    /* Beyond PATH_MAX. */
    static char big[PATH_MAX + 64];
    char res[PATH_MAX];
    for (size_t i = 0; i < sizeof big - 1; i += 2) {
        big[i] = '/';
        big[i + 1] = 'x';
    }
    big[sizeof big - 1] = 0;
    ck_assert_int_eq(hfs_path_normalize(NULL, big, res, sizeof res), -ENAMETOOLONG);

    /* The output never runs past n. */
    char guard[16];
    memset(guard, 'G', sizeof guard);
    ck_assert_int_eq(hfs_path_normalize(NULL, "/0123456789abcdef", guard, 8), -ENAMETOOLONG);
    for (size_t i = 8; i < sizeof guard; i++) ck_assert_int_eq(guard[i], 'G');
}
END_TEST

Suite *suite_paths(void)
{
    Suite *s = suite_create("paths");
    TCase *tc = tcase_create("normalize");
    tcase_add_test(tc, collapse);
    tcase_add_test(tc, dotdot_above_root);
    tcase_add_test(tc, relative);
    tcase_add_test(tc, trailing_and_dot);
    tcase_add_test(tc, empty);
    tcase_add_test(tc, too_long);
    suite_add_tcase(s, tc);
    return s;
}
