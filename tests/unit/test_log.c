/* The log line's sanitizer: what a server puts in a name cannot forge lines or drive the
 * terminal. */
#include <check.h>
#include <string.h>
#include "suites.h"
#include "log.h"

static const char *clean(const char *in)
{
    static char out[256];
    hfs_log_sanitize(in, strlen(in), out, sizeof out);
    return out;
}

START_TEST(sanitize)
{
    ck_assert_str_eq(clean("acme/tiny: a b.txt"), "acme/tiny: a b.txt");
    ck_assert_str_eq(clean("x\nhfshim: forged"), "x\\nhfshim: forged");
    ck_assert_str_eq(clean("a\r\tb"), "a\\r\\tb");
    ck_assert_str_eq(clean("\x1b[31mred\x1b]0;title\x07"), "\\x1b[31mred\\x1b]0;title\\x07");
    ck_assert_str_eq(clean("del\x7f"), "del\\x7f");
    /* UTF-8 passes; C1 CSI (U+009B), bidi overrides and separators do not. */
    ck_assert_str_eq(clean("données/naïve-文件 😀"), "données/naïve-文件 😀");
    ck_assert_str_eq(clean("\xc2\x9b"
                           "31m"),
                     "\\u009b31m");
    ck_assert_str_eq(clean("exe.\xe2\x80\xaetxt"), "exe.\\u202etxt");
    ck_assert_str_eq(clean("a\xe2\x80\xa8"
                           "b"),
                     "a\\u2028b");
    /* Not UTF-8: stray continuation, overlong, surrogate, cut sequence. */
    ck_assert_str_eq(clean("\x9b\xc0\xaf\xed\xa0\x80\xe6\x96"),
                     "\\x9b\\xc0\\xaf\\xed\\xa0\\x80\\xe6\\x96");
    /* Cut only between whole escapes. */
    char out[5];
    ck_assert_uint_eq(hfs_log_sanitize("ab\ncd", 5, out, sizeof out), 4);
    ck_assert_str_eq(out, "ab\\n");
    ck_assert_uint_eq(hfs_log_sanitize("abc\x01", 4, out, sizeof out), 3);
    ck_assert_str_eq(out, "abc");
}
END_TEST

Suite *suite_log(void)
{
    Suite *s = suite_create("log");
    TCase *tc = tcase_create("log");
    tcase_add_test(tc, sanitize);
    suite_add_tcase(s, tc);
    return s;
}
