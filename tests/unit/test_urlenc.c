/* URL encoding as huggingface_hub does it, and the origin check that guards the token. */
#include <check.h>
#include <stdlib.h>
#include "suites.h"
#include "net_urlenc.h"

static void eq_quote(const char *in, const char *safe, const char *want)
{
    char *q = hfs_quote(in, safe);
    ck_assert_ptr_nonnull(q);
    ck_assert_str_eq(q, want);
    free(q);
}

START_TEST(quote_revision)
{
    eq_quote("refs/pr/1", "", "refs%2Fpr%2F1");
    eq_quote("main", "", "main");
    eq_quote("v1.0-rc_2~x", "", "v1.0-rc_2~x");
}
END_TEST

START_TEST(quote_path)
{
    eq_quote("a b/ü.txt", "/", "a%20b/%C3%BC.txt");
    eq_quote("_versions/1.manifest#1", "/", "_versions/1.manifest%231");
    eq_quote("x?y&z=%", "/", "x%3Fy%26z%3D%25");
    eq_quote("", "/", "");
    eq_quote("😀", "/", "%F0%9F%98%80");
}
END_TEST

START_TEST(resolve_relative_and_absolute)
{
    char *u = hfs_url_resolve("http://127.0.0.1:8000/acme/tiny/resolve/abc/a.bin",
                              "/api/resolve-cache/models/acme/tiny/abc/a.bin?x=1");
    ck_assert_str_eq(u, "http://127.0.0.1:8000/api/resolve-cache/models/acme/tiny/abc/a.bin?x=1");
    free(u);
    u = hfs_url_resolve("https://huggingface.co/api/models/a/b/tree/x?cursor=1",
                        "https://cdn.example/file?sig=2");
    ck_assert_str_eq(u, "https://cdn.example/file?sig=2");
    free(u);
    u = hfs_url_resolve("https://huggingface.co/api/models/a/b/tree/x", "?cursor=abc");
    ck_assert_str_eq(u, "https://huggingface.co/api/models/a/b/tree/x?cursor=abc");
    free(u);
    ck_assert_ptr_null(hfs_url_resolve("https://huggingface.co/x", "file:///etc/passwd"));
}
END_TEST

START_TEST(same_origin)
{
    ck_assert_int_eq(hfs_url_same_origin("https://huggingface.co/a", "https://huggingface.co"), 1);
    ck_assert_int_eq(hfs_url_same_origin("https://HuggingFace.co:443/a", "https://huggingface.co"),
                     1);
    ck_assert_int_eq(hfs_url_same_origin("http://huggingface.co/a", "https://huggingface.co"), 0);
    ck_assert_int_eq(hfs_url_same_origin("https://cdn-lfs.hf.co/a", "https://huggingface.co"), 0);
    ck_assert_int_eq(hfs_url_same_origin("http://127.0.0.1:8001/x", "http://127.0.0.1:8000"), 0);
    ck_assert_int_eq(hfs_url_same_origin("http://127.0.0.1:8000/x", "http://127.0.0.1:8000"), 1);
    ck_assert_int_eq(hfs_url_same_origin("not a url", "http://127.0.0.1:8000"), 0);
}
END_TEST

START_TEST(log_form_hides_signed_query)
{
    char b[256];
    hfs_url_for_log("https://cdn.example/f?X-Amz-Signature=secret", "https://huggingface.co", b,
                    sizeof b);
    ck_assert_str_eq(b, "https://cdn.example/f");
    hfs_url_for_log("https://huggingface.co/api/x?cursor=1", "https://huggingface.co", b, sizeof b);
    ck_assert_str_eq(b, "https://huggingface.co/api/x?cursor=1");
}
END_TEST

Suite *suite_urlenc(void)
{
    Suite *s = suite_create("urlenc");
    TCase *tc = tcase_create("urlenc");
    tcase_add_test(tc, quote_revision);
    tcase_add_test(tc, quote_path);
    tcase_add_test(tc, resolve_relative_and_absolute);
    tcase_add_test(tc, same_origin);
    tcase_add_test(tc, log_form_hides_signed_query);
    suite_add_tcase(s, tc);
    return s;
}
