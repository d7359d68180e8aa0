/* The pure parts of the HTTP layer: Link, Content-Range, Retry-After / RateLimit, backoff and
 * the mapping of Hub errors to errno. No network. */
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <string.h>
#include "suites.h"
#include "net_http.h"
#include "net_pages.h"

START_TEST(link_next)
{
    char u[256];
    ck_assert_int_eq(hfs_http_link_next("<https://huggingface.co/api/models/a/b/tree/main?"
                                        "cursor=abc&limit=1000>; rel=\"next\"",
                                        u, sizeof u),
                     1);
    ck_assert_str_eq(u, "https://huggingface.co/api/models/a/b/tree/main?cursor=abc&limit=1000");
    ck_assert_int_eq(
        hfs_http_link_next("<http://x/prev>; rel=\"prev\", <http://x/n>;rel=next", u, sizeof u), 1);
    ck_assert_str_eq(u, "http://x/n");
    ck_assert_int_eq(hfs_http_link_next("</api/tree?cursor=2>; rel=\"next\"", u, sizeof u), 1);
    ck_assert_str_eq(u, "/api/tree?cursor=2");
    ck_assert_int_eq(hfs_http_link_next("<http://x/a>; rel=\"prev last\"", u, sizeof u), 0);
    ck_assert_int_eq(hfs_http_link_next("<http://x/a>; rel=\"last next\"", u, sizeof u), 1);
    ck_assert_int_eq(hfs_http_link_next("<https://h/xet-read-token/c>; rel=\"xet-auth\", "
                                        "<https://cas/v1/reconstructions/h>; "
                                        "rel=\"xet-reconstruction-info\"",
                                        u, sizeof u),
                     0);
    ck_assert_int_eq(hfs_http_link_next("", u, sizeof u), 0);
    ck_assert_int_eq(hfs_http_link_next("garbage; rel=next", u, sizeof u), 0);
    ck_assert_int_eq(hfs_http_link_next("<http://x/very-long>; rel=next", u, 8), 0);
}
END_TEST

START_TEST(content_range)
{
    uint64_t a, b, t;
    ck_assert_int_eq(hfs_http_content_range("bytes 0-99/1000", &a, &b, &t), 0);
    ck_assert_uint_eq(a, 0);
    ck_assert_uint_eq(b, 99);
    ck_assert_uint_eq(t, 1000);
    ck_assert_int_eq(hfs_http_content_range("Bytes  5-5/6\r\n", &a, &b, &t), 0);
    ck_assert_uint_eq(a, 5);
    ck_assert_int_eq(hfs_http_content_range("bytes 0-10737418239/10737418240", &a, &b, &t), 0);
    ck_assert_uint_eq(t, 10737418240ULL);
    ck_assert_int_eq(hfs_http_content_range("bytes */1000", &a, &b, &t), -1);
    ck_assert_int_eq(hfs_http_content_range("bytes 0-99/*", &a, &b, &t), -1);
    ck_assert_int_eq(hfs_http_content_range("bytes 10-5/100", &a, &b, &t), -1);
    ck_assert_int_eq(hfs_http_content_range("bytes 0-100/100", &a, &b, &t), -1);
    ck_assert_int_eq(hfs_http_content_range("items 0-1/2", &a, &b, &t), -1);
    ck_assert_int_eq(hfs_http_content_range("bytes 0-1/2x", &a, &b, &t), -1);
    ck_assert_int_eq(hfs_http_content_range("bytes 0-1/99999999999999999999999", &a, &b, &t), -1);
}
END_TEST

START_TEST(retry_after_and_ratelimit)
{
    ck_assert_int_eq(hfs_http_retry_after_ms("3", 0), 3000);
    ck_assert_int_eq(hfs_http_retry_after_ms(" 0 ", 0), 0);
    ck_assert_int_eq(hfs_http_retry_after_ms("soon", 0), -1);
    ck_assert_int_eq(hfs_http_retry_after_ms("-1", 0), -1);
    time_t now = curl_getdate("Wed, 21 Oct 2015 07:28:00 GMT", NULL);
    ck_assert_int_eq(hfs_http_retry_after_ms("Wed, 21 Oct 2015 07:28:07 GMT", now), 7000);
    ck_assert_int_eq(hfs_http_retry_after_ms("Wed, 21 Oct 2015 07:27:00 GMT", now), 0);

    ck_assert_int_eq(hfs_http_ratelimit_ms("\"api\";r=0;t=55"), 55000);
    ck_assert_int_eq(hfs_http_ratelimit_ms("\"api\"; r=0; t=3"), 3000);
    ck_assert_int_eq(hfs_http_ratelimit_ms("\"api\";r=12;t=55"), -1);
    ck_assert_int_eq(hfs_http_ratelimit_ms("\"api\";t=55"), -1);
    ck_assert_int_eq(hfs_http_ratelimit_ms("\"pages\";r=5;t=9, \"api\";r=0;t=7"), 7000);
    ck_assert_int_eq(hfs_http_ratelimit_ms(""), -1);
}
END_TEST

START_TEST(backoff)
{
    ck_assert_int_eq(hfs_http_backoff_ms(1, 503, -1, -1), 250);
    ck_assert_int_eq(hfs_http_backoff_ms(2, 503, -1, -1), 500);
    ck_assert_int_eq(hfs_http_backoff_ms(3, 0, -1, -1), 1000);
    ck_assert_int_eq(hfs_http_backoff_ms(4, 0, -1, -1), 2000);
    ck_assert_int_eq(hfs_http_backoff_ms(9, 0, -1, -1), 2000);
    ck_assert_int_eq(hfs_http_backoff_ms(1, 503, 2000, -1), 2000);
    ck_assert_int_eq(hfs_http_backoff_ms(1, 503, 0, -1), 250);
    ck_assert_int_eq(hfs_http_backoff_ms(1, 503, 3600000, -1), HFS_HTTP_MAX_WAIT_MS);
    ck_assert_int_eq(hfs_http_backoff_ms(1, 429, 9000, 1000), 1250);
    ck_assert_int_eq(hfs_http_backoff_ms(1, 429, -1, 55000), HFS_HTTP_MAX_WAIT_MS + 250);
    /* RateLimit only counts on a 429. */
    ck_assert_int_eq(hfs_http_backoff_ms(1, 503, -1, 55000), 250);
}
END_TEST

START_TEST(retryable)
{
    static const long yes[] = {408, 429, 500, 502, 503, 504};
    static const long no[] = {200, 206, 301, 400, 401, 403, 404, 410, 416, 501, 505};
    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++)
        ck_assert_int_eq(hfs_http_status_retryable(yes[i]), 1);
    for (size_t i = 0; i < sizeof no / sizeof *no; i++)
        ck_assert_int_eq(hfs_http_status_retryable(no[i]), 0);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_COULDNT_CONNECT), 1);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_RECV_ERROR), 1);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_PARTIAL_FILE), 1);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_OPERATION_TIMEDOUT), 1);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_GOT_NOTHING), 1);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_WRITE_ERROR), 0);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_PEER_FAILED_VERIFICATION), 0);
    ck_assert_int_eq(hfs_http_curl_retryable(CURLE_URL_MALFORMAT), 0);
}
END_TEST

static int map(long st, const char *code, const char *xmsg, const char *body, int tok, char *m)
{
    return hfs_http_map_error(st, code, xmsg, body, body ? strlen(body) : 0, tok, m, 256);
}

START_TEST(error_mapping)
{
    char m[256];
    ck_assert_int_eq(map(404, NULL, NULL, NULL, 0, m), -ENOENT);
    ck_assert_int_eq(map(404, "EntryNotFound", "Entry not found", NULL, 1, m), -ENOENT);
    ck_assert_str_eq(m, "file not found (Entry not found)");
    ck_assert_int_eq(map(404, "RevisionNotFound", NULL, NULL, 1, m), -ENOENT);
    ck_assert_str_eq(m, "revision not found");
    ck_assert_int_eq(map(404, "RepoNotFound", NULL, "{\"error\":\"Repository not found\"}", 1, m),
                     -ENOENT);
    ck_assert_str_eq(m, "repository not found (Repository not found)");
    /* The Hub's answer to an anonymous request for a missing or private repo. */
    ck_assert_int_eq(map(401, "RepoNotFound", "Invalid username or password.", NULL, 0, m),
                     -EACCES);
    ck_assert_ptr_nonnull(strstr(m, "repository not found or private (no token)"));
    ck_assert_int_eq(map(401, NULL, "Invalid credentials in Authorization header", NULL, 1, m),
                     -EACCES);
    ck_assert_ptr_nonnull(strstr(m, "invalid token"));
    ck_assert_int_eq(map(403, "GatedRepo", NULL, NULL, 1, m), -EACCES);
    ck_assert_ptr_nonnull(strstr(m, "gated"));
    ck_assert_int_eq(map(401, "GatedRepo", NULL, NULL, 0, m), -EACCES);
    ck_assert_ptr_nonnull(strstr(m, "gated"));
    ck_assert_int_eq(map(403, NULL, NULL, NULL, 1, m), -EACCES);
    ck_assert_int_eq(map(403, NULL, "Access to this resource is disabled.", NULL, 1, m), -EACCES);
    ck_assert_ptr_nonnull(strstr(m, "disabled"));
    ck_assert_int_eq(map(400, NULL, NULL, "{\"error\":\"bad cursor\"}", 1, m), -EIO);
    ck_assert_str_eq(m, "HTTP error 400 (bad cursor)");
    ck_assert_int_eq(map(416, NULL, NULL, NULL, 1, m), -EIO);
    ck_assert_int_eq(map(503, NULL, NULL, "<html>busy</html>", 1, m), -EIO);
    ck_assert_str_eq(m, "server error 503");
    ck_assert_int_eq(map(429, NULL, NULL, NULL, 1, m), -EIO);
    /* Control characters from the server never reach the log line raw. */
    map(500, NULL, "a\nb\x1b[31m", NULL, 1, m);
    ck_assert_str_eq(m, "server error 500 (a?b?[31m)");
}
END_TEST

START_TEST(buffers)
{
    hfs_buf b = {0};
    ck_assert_int_eq(hfs_buf_str(&b, "ab"), 0);
    for (int i = 0; i < 5000; i++) ck_assert_int_eq(hfs_buf_add(&b, "x", 1), 0);
    ck_assert_uint_eq(b.len, 5002);
    ck_assert_int_eq(b.p[b.len], 0);
    hfs_buf_free(&b);
    ck_assert_ptr_null(b.p);
}
END_TEST

START_TEST(budget)
{
    hfs_budget b;
    hfs_budget_start(&b, 10, 1000);
    ck_assert_int_eq(hfs_budget_left_ms(&b, 1000), 10000);
    ck_assert_int_eq(hfs_budget_left_ms(&b, 11000), 0);
    /* Drip-feeding buys no time: less than a window's worth of bytes (64 KiB/s x 10 s). */
    for (int t = 1000; t < 11000; t += 100) hfs_budget_moved(&b, 1000, t);
    ck_assert_int_le(hfs_budget_left_ms(&b, 11000), 0);
    /* A transfer faster than HFS_MIN_RATE never runs out. */
    hfs_budget_start(&b, 10, 0);
    for (int t = 0; t < 60000; t += 1000) {
        hfs_budget_moved(&b, 100u << 10, t);
        ck_assert_int_gt(hfs_budget_left_ms(&b, t + 1000), 0);
    }
    hfs_budget_start(&b, 0, 0); /* unset: the default */
    ck_assert_int_eq(hfs_budget_left_ms(&b, 0), 30000);
}
END_TEST

START_TEST(next_attempt)
{
    char end[200];
    hfs_budget b;
    hfs_xfer x;
    memset(&x, 0, sizeof x);
    x.retry_after_ms = x.ratelimit_ms = -1;
    x.status = 503;
    ck_assert_int_eq(hfs_http_next_attempt(&x, 0, end, sizeof end), 250); /* no budget */
    hfs_budget_start(&b, 10, 0);
    x.budget = &b;
    ck_assert_int_eq(hfs_http_next_attempt(&x, 0, end, sizeof end), 250);
    ck_assert_str_eq(end, "");
    /* A Retry-After that fits is honoured in full, even past the backoff cap... */
    hfs_budget_start(&b, 100, 0);
    x.retry_after_ms = 45000;
    ck_assert_int_eq(hfs_http_next_attempt(&x, 0, end, sizeof end), 45000);
    /* ...one beyond the deadline ends the call now, saying so. */
    ck_assert_int_eq(hfs_http_next_attempt(&x, 60000, end, sizeof end), -1);
    ck_assert_ptr_nonnull(strstr(end, "45 s"));
    ck_assert_ptr_nonnull(strstr(end, "HF_SHIM_TIMEOUT (100 s)"));
    x.status = 429;
    x.retry_after_ms = -1;
    x.ratelimit_ms = 200000;
    ck_assert_int_eq(hfs_http_next_attempt(&x, 0, end, sizeof end), -1);
    /* No time left for the backoff itself. */
    x.status = 500;
    x.ratelimit_ms = -1;
    ck_assert_int_eq(hfs_http_next_attempt(&x, 99900, end, sizeof end), -1);
    ck_assert_ptr_nonnull(strstr(end, "reached"));
    x.failures = HFS_HTTP_ATTEMPTS - 1;
    ck_assert_int_eq(hfs_http_next_attempt(&x, 0, end, sizeof end), -1);
    ck_assert_str_eq(end, "after 5 attempts");
    x.failures = 0;
    x.status = 404;
    ck_assert_int_eq(hfs_http_next_attempt(&x, 0, end, sizeof end), -1);
    ck_assert_str_eq(end, "");
}
END_TEST

START_TEST(pages)
{
    hfs_pages p = {0};
    char body[32];
    for (int i = 1; i <= 1000; i++) {
        int n = snprintf(body, sizeof body, "[{\"path\":\"f%d\"}]", i);
        ck_assert_int_eq(hfs_pages_add(&p, body, (size_t)n, i), 0);
    }
    const char *again = "[{\"path\":\"f7\"}]";
    ck_assert_int_eq(hfs_pages_add(&p, again, strlen(again), 1001), 7);
    ck_assert_int_eq(hfs_pages_add(&p, "[]", 2, 1002), 0);
    ck_assert_int_eq(hfs_pages_add(&p, "[]", 2, 1003), 1002);
    hfs_pages_free(&p);
}
END_TEST

Suite *suite_http(void)
{
    Suite *s = suite_create("http");
    TCase *tc = tcase_create("http");
    tcase_add_test(tc, link_next);
    tcase_add_test(tc, content_range);
    tcase_add_test(tc, retry_after_and_ratelimit);
    tcase_add_test(tc, backoff);
    tcase_add_test(tc, retryable);
    tcase_add_test(tc, error_mapping);
    tcase_add_test(tc, buffers);
    tcase_add_test(tc, budget);
    tcase_add_test(tc, next_attempt);
    tcase_add_test(tc, pages);
    suite_add_tcase(s, tc);
    return s;
}
