/* core/vfs/grammar.h: percent-decoding, mount specs, paths below the prefix, keys, shas. */
#include <errno.h>
#include <string.h>
#include "suites.h"
#include "grammar.h"

/* ---- hfs_pct_decode ---- */

static int dec(const char *in, char *out, size_t n)
{
    return hfs_pct_decode(in, strlen(in), out, n);
}

START_TEST(pct_good)
{
    char out[64];
    ck_assert_int_eq(dec("refs%2Fpr%2F1", out, sizeof out), 0);
    ck_assert_str_eq(out, "refs/pr/1");
    ck_assert_int_eq(dec("plain-name_1.0", out, sizeof out), 0);
    ck_assert_str_eq(out, "plain-name_1.0");
    ck_assert_int_eq(dec("", out, sizeof out), 0);
    ck_assert_str_eq(out, "");
    ck_assert_int_eq(dec("%41%62%2f%2F", out, sizeof out), 0); /* both hex cases */
    ck_assert_str_eq(out, "Ab//");
    ck_assert_int_eq(dec("%25", out, sizeof out), 0); /* an escaped '%' is not decoded twice */
    ck_assert_str_eq(out, "%");
    ck_assert_int_eq(dec("%C3%A9t%C3%A9", out, sizeof out), 0); /* UTF-8 bytes */
    ck_assert_str_eq(out, "\xc3\xa9t\xc3\xa9");
    /* Only `len` bytes are read. */
    ck_assert_int_eq(hfs_pct_decode("abc%2Fdef", 3, out, sizeof out), 0);
    ck_assert_str_eq(out, "abc");
    ck_assert_int_eq(hfs_pct_decode("a%2Fb", 3, out, sizeof out), -EINVAL); /* "a%2" cut */
}
END_TEST

START_TEST(pct_bad)
{
    char out[64];
    ck_assert_int_eq(dec("%", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("a%", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("%2", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("abc%2", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("%zz", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("%g0", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("%0g", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("x%-1y", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("% 1", out, sizeof out), -EINVAL);
    /* A decoded NUL would silently cut the name ("main%00x" -> "main"). */
    ck_assert_int_eq(dec("%00", out, sizeof out), -EINVAL);
    ck_assert_int_eq(dec("main%00x", out, sizeof out), -EINVAL);
}
END_TEST

START_TEST(pct_too_long)
{
    char out[4];
    memset(out, 'X', sizeof out);
    ck_assert_int_eq(dec("abc", out, sizeof out), 0); /* exactly fits with the NUL */
    ck_assert_str_eq(out, "abc");
    ck_assert_int_eq(dec("abcd", out, sizeof out), -ENAMETOOLONG);
    ck_assert_int_eq(dec("%41%42%43", out, sizeof out), 0);
    ck_assert_str_eq(out, "ABC");
    ck_assert_int_eq(dec("%41%42%43%44", out, sizeof out), -ENAMETOOLONG);
    char big[HFS_REV_MAX + 8];
    memset(big, 'r', sizeof big - 1);
    big[sizeof big - 1] = 0;
    char rev[HFS_REV_MAX];
    ck_assert_int_eq(dec(big, rev, sizeof rev), -ENAMETOOLONG);
}
END_TEST

/* ---- hfs_parse_spec ---- */

START_TEST(spec_model)
{
    hfs_spec s;
    char sub[256];
    memset(sub, 'X', sizeof sub);
    ck_assert_int_eq(hfs_parse_spec("acme/tiny", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_MODEL);
    ck_assert_str_eq(s.repo.id, "acme/tiny");
    ck_assert_str_eq(s.rev, "");
    ck_assert_str_eq(sub, "");

    ck_assert_int_eq(hfs_parse_spec("acme/tiny@main", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_MODEL);
    ck_assert_str_eq(s.repo.id, "acme/tiny");
    ck_assert_str_eq(s.rev, "main");
    ck_assert_str_eq(sub, "");

    ck_assert_int_eq(hfs_parse_spec("hf://models/acme/tiny@v1.0/onnx", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_MODEL);
    ck_assert_str_eq(s.repo.id, "acme/tiny");
    ck_assert_str_eq(s.rev, "v1.0");
    ck_assert_str_eq(sub, "onnx");
}
END_TEST

START_TEST(spec_dataset_pr_sub)
{
    hfs_spec s;
    char sub[256];
    ck_assert_int_eq(
        hfs_parse_spec("hf://datasets/acme/x@refs%2Fpr%2F1/sub/dir/", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_DATASET);
    ck_assert_str_eq(s.repo.id, "acme/x");
    ck_assert_str_eq(s.rev, "refs/pr/1");
    ck_assert_str_eq(sub, "sub/dir");

    /* Repeated slashes around the subfolder are trimmed. */
    ck_assert_int_eq(hfs_parse_spec("datasets/acme/x//sub//", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_DATASET);
    ck_assert_str_eq(s.rev, "");
    ck_assert_str_eq(sub, "sub");

    /* A subfolder that does not fit is refused, not cut. */
    char small[4];
    ck_assert_int_eq(hfs_parse_spec("acme/x/abcd", &s, small, sizeof small), -EINVAL);
    ck_assert_int_eq(hfs_parse_spec("acme/x/abc", &s, small, sizeof small), 0);
    ck_assert_str_eq(small, "abc");
}
END_TEST

START_TEST(spec_bucket_space)
{
    hfs_spec s;
    char sub[256];
    ck_assert_int_eq(hfs_parse_spec("buckets/acme/cache", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_BUCKET);
    ck_assert_str_eq(s.repo.id, "acme/cache");
    ck_assert_str_eq(s.rev, "");
    ck_assert_str_eq(sub, "");

    ck_assert_int_eq(hfs_parse_spec("hf://buckets/acme/cache/neuronxcc", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_BUCKET);
    ck_assert_str_eq(s.repo.id, "acme/cache");
    ck_assert_str_eq(sub, "neuronxcc");

    /* Buckets have no revisions. */
    ck_assert_int_eq(hfs_parse_spec("buckets/acme/cache@x", &s, sub, sizeof sub), -EINVAL);
    ck_assert_int_eq(hfs_parse_spec("hf://buckets/acme/cache@main/a", &s, sub, sizeof sub),
                     -EINVAL);

    ck_assert_int_eq(hfs_parse_spec("spaces/a/b", &s, sub, sizeof sub), 0);
    ck_assert_int_eq(s.repo.type, HFS_SPACE);
    ck_assert_str_eq(s.repo.id, "a/b");
    ck_assert_str_eq(s.rev, "");
    ck_assert_str_eq(sub, "");
}
END_TEST

START_TEST(spec_bad)
{
    static const char *bad[] = {
        "",
        "acme",
        "acme/",
        "/acme/",
        "hf://",
        "datasets/",
        "datasets/acme",
        "../x/y",
        "./x/y",
        "x/../y",
        "a/b/../../c",
        "a/b/..",
        "a/b/x/../y",
        "a/b/x/..",
        "a/b/x/.",
        "a/b/./x",
        "a/b/..//",
        "a/b@",     /* empty revision */
        "a/b@/sub", /* empty revision */
        "a/b@%zz",  /* bad escape */
        "a/b@%00",  /* NUL: would mean the default branch */
        "a/b@..",   /* revisions name files under refs/: no "." or ".." components */
        "a/b@.",
        "a/b@..%2F..%2Fx",
        "a/b@refs%2F..%2F..%2Fx",
        "a/b@x%2F..",
        "a%2Fb/c", /* '%' in a name */
        "a@x/b",   /* '@' in an org */
        "a/b\x01", /* control byte */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hfs_spec s;
        char sub[256];
        int r = hfs_parse_spec(bad[i], &s, sub, sizeof sub);
        ck_assert_msg(r == -EINVAL, "hfs_parse_spec(\"%s\") = %d, want -EINVAL", bad[i], r);
    }
}
END_TEST

START_TEST(spec_long_names)
{
    hfs_spec s;
    char sub[256];
    char buf[400];
    /* Each of org and name is limited to < HFS_ID_MAX/2 bytes, so "org/name" always fits. */
    memset(buf, 'o', 127);
    buf[127] = '/';
    memset(buf + 128, 'n', 127);
    buf[255] = 0;
    ck_assert_int_eq(hfs_parse_spec(buf, &s, sub, sizeof sub), 0);
    ck_assert_uint_eq(strlen(s.repo.id), 255);
    memset(buf, 'o', 128);
    buf[128] = '/';
    strcpy(buf + 129, "n");
    ck_assert_int_eq(hfs_parse_spec(buf, &s, sub, sizeof sub), -EINVAL);
}
END_TEST

/* ---- hfs_parse_vpath ---- */

START_TEST(vpath_dirs)
{
    hfs_vloc v;
    ck_assert_int_eq(hfs_parse_vpath("", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_ROOT);

    ck_assert_int_eq(hfs_parse_vpath("datasets", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_TYPEDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_DATASET);
    ck_assert_int_eq(hfs_parse_vpath("models", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_TYPEDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_MODEL);
    ck_assert_int_eq(hfs_parse_vpath("spaces", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_TYPEDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_SPACE);
    ck_assert_int_eq(hfs_parse_vpath("buckets", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_TYPEDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_BUCKET);

    ck_assert_int_eq(hfs_parse_vpath("acme", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_ORGDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_MODEL);
    ck_assert_str_eq(v.spec.repo.id, "acme");

    ck_assert_int_eq(hfs_parse_vpath("datasets/acme", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_ORGDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_DATASET);
    ck_assert_str_eq(v.spec.repo.id, "acme");

    ck_assert_int_eq(hfs_parse_vpath("buckets/acme", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_ORGDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_BUCKET);
    ck_assert_str_eq(v.spec.repo.id, "acme");

    /* A model org that merely starts like a type name is still a model org. */
    ck_assert_int_eq(hfs_parse_vpath("datasetsX", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_ORGDIR);
    ck_assert_int_eq(v.spec.repo.type, HFS_MODEL);
    ck_assert_str_eq(v.spec.repo.id, "datasetsX");
}
END_TEST

START_TEST(vpath_repo)
{
    hfs_vloc v;
    ck_assert_int_eq(hfs_parse_vpath("acme/tiny", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_MODEL);
    ck_assert_str_eq(v.spec.repo.id, "acme/tiny");
    ck_assert_str_eq(v.spec.rev, "");
    ck_assert_ptr_nonnull(v.path);
    ck_assert_str_eq(v.path, "");

    const char *rel = "acme/tiny@v1.0/a/b.txt";
    ck_assert_int_eq(hfs_parse_vpath(rel, &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_MODEL);
    ck_assert_str_eq(v.spec.repo.id, "acme/tiny");
    ck_assert_str_eq(v.spec.rev, "v1.0");
    ck_assert_str_eq(v.path, "a/b.txt");
    ck_assert_ptr_eq(v.path, rel + strlen("acme/tiny@v1.0/")); /* points into rel */

    ck_assert_int_eq(hfs_parse_vpath("acme/tiny@refs%2Fpr%2F1/x", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_str_eq(v.spec.repo.id, "acme/tiny");
    ck_assert_str_eq(v.spec.rev, "refs/pr/1");
    ck_assert_str_eq(v.path, "x");

    ck_assert_int_eq(hfs_parse_vpath("acme/tiny@main", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_str_eq(v.spec.rev, "main");
    ck_assert_str_eq(v.path, "");

    ck_assert_int_eq(hfs_parse_vpath("datasets/acme/x@v2/data/train.parquet", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_DATASET);
    ck_assert_str_eq(v.spec.repo.id, "acme/x");
    ck_assert_str_eq(v.spec.rev, "v2");
    ck_assert_str_eq(v.path, "data/train.parquet");

    ck_assert_int_eq(hfs_parse_vpath("spaces/acme/demo/app.py", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_SPACE);
    ck_assert_str_eq(v.spec.repo.id, "acme/demo");
    ck_assert_str_eq(v.path, "app.py");

    ck_assert_int_eq(hfs_parse_vpath("models/acme/tiny/config.json", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_MODEL);
    ck_assert_str_eq(v.spec.repo.id, "acme/tiny");
    ck_assert_str_eq(v.path, "config.json");
}
END_TEST

START_TEST(vpath_bucket)
{
    hfs_vloc v;
    ck_assert_int_eq(hfs_parse_vpath("buckets/acme/cache/neuronxcc/MODULE_1", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_BUCKET);
    ck_assert_str_eq(v.spec.repo.id, "acme/cache");
    ck_assert_str_eq(v.spec.rev, "");
    ck_assert_str_eq(v.path, "neuronxcc/MODULE_1");

    ck_assert_int_eq(hfs_parse_vpath("buckets/acme/cache", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_BUCKET);
    ck_assert_str_eq(v.path, "");

    /* '@' in a path inside a bucket is just a character. */
    ck_assert_int_eq(hfs_parse_vpath("buckets/acme/cache/a@b", &v), 0);
    ck_assert_str_eq(v.path, "a@b");

    ck_assert_int_eq(hfs_parse_vpath("buckets/acme/cache@x", &v), -ENOENT);
    ck_assert_int_eq(hfs_parse_vpath("buckets/acme/cache@x/y", &v), -ENOENT);
}
END_TEST

START_TEST(vpath_non_ascii)
{
    hfs_vloc v;
    const char *rel = "\xe6\x97\xa5\xe6\x9c\xac/mod\xc3\xa8le@r\xc3\xa9v/donn\xc3\xa9"
                      "es/\xf0\x9f\xa4\x97.txt";
    ck_assert_int_eq(hfs_parse_vpath(rel, &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_REPO);
    ck_assert_int_eq(v.spec.repo.type, HFS_MODEL);
    ck_assert_str_eq(v.spec.repo.id, "\xe6\x97\xa5\xe6\x9c\xac/mod\xc3\xa8le");
    ck_assert_str_eq(v.spec.rev, "r\xc3\xa9v");
    ck_assert_str_eq(v.path, "donn\xc3\xa9"
                             "es/\xf0\x9f\xa4\x97.txt");

    ck_assert_int_eq(hfs_parse_vpath("datasets/\xc3\xa9quipe", &v), 0);
    ck_assert_int_eq(v.kind, HFS_VL_ORGDIR);
    ck_assert_str_eq(v.spec.repo.id, "\xc3\xa9quipe");

    /* A percent-encoded revision decodes to UTF-8. */
    ck_assert_int_eq(hfs_parse_vpath("acme/tiny@%C3%A9t%C3%A9/x", &v), 0);
    ck_assert_str_eq(v.spec.rev, "\xc3\xa9t\xc3\xa9");
}
END_TEST

START_TEST(vpath_bad)
{
    static const char *bad[] = {
        "acme/tiny@",                     /* empty revision */
        "acme/tiny@/x",                   /* empty revision */
        "acme/tiny@%zz/x",                /* bad escape */
        "acme/tiny@%2/x",                 /* short escape */
        "acme%41/tiny",                   /* '%' in an org */
        "acme/ti%6Ey",                    /* '%' in a name */
        "acme@x",                         /* '@' in an org */
        "acme@x/tiny",                    /* '@' in an org */
        "..",                             /* not a name */
        "datasets/..",                    /* not a name */
        "acme/..",                        /* not a name */
        "buckets/acme/c@x",               /* no revisions on buckets */
        "acme/tiny@%00/x",                /* NUL in a revision */
        "acme/tiny@..%2F..%2F..%2Fetc/x", /* escapes refs/ */
        "acme/tiny@../x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        hfs_vloc v;
        int r = hfs_parse_vpath(bad[i], &v);
        ck_assert_msg(r == -ENOENT, "hfs_parse_vpath(\"%s\") = %d, want -ENOENT", bad[i], r);
    }
}
END_TEST

/* ---- keys and shas ---- */

START_TEST(spec_key)
{
    hfs_spec s;
    char sub[64], key[600];
    ck_assert_int_eq(hfs_parse_spec("acme/tiny", &s, sub, sizeof sub), 0);
    hfs_spec_key(&s, key, sizeof key);
    ck_assert_str_eq(key, "model:acme/tiny@main");
    ck_assert_int_eq(hfs_parse_spec("acme/tiny@v1.0", &s, sub, sizeof sub), 0);
    hfs_spec_key(&s, key, sizeof key);
    ck_assert_str_eq(key, "model:acme/tiny@v1.0");
    ck_assert_int_eq(hfs_parse_spec("datasets/acme/x@refs%2Fpr%2F1", &s, sub, sizeof sub), 0);
    hfs_spec_key(&s, key, sizeof key);
    ck_assert_str_eq(key, "dataset:acme/x@refs/pr/1");
    ck_assert_int_eq(hfs_parse_spec("spaces/a/b", &s, sub, sizeof sub), 0);
    hfs_spec_key(&s, key, sizeof key);
    ck_assert_str_eq(key, "space:a/b@main");
    ck_assert_int_eq(hfs_parse_spec("buckets/acme/cache/sub", &s, sub, sizeof sub), 0);
    hfs_spec_key(&s, key, sizeof key);
    ck_assert_str_eq(key, "bucket:acme/cache");

    /* Two spellings of the same snapshot give one key; different types never collide. */
    hfs_spec a, b;
    char ka[600], kb[600];
    ck_assert_int_eq(hfs_parse_spec("hf://models/acme/tiny@main", &a, sub, sizeof sub), 0);
    ck_assert_int_eq(hfs_parse_spec("acme/tiny", &b, sub, sizeof sub), 0);
    hfs_spec_key(&a, ka, sizeof ka);
    hfs_spec_key(&b, kb, sizeof kb);
    ck_assert_str_eq(ka, kb);
    ck_assert_int_eq(hfs_parse_spec("datasets/acme/tiny", &b, sub, sizeof sub), 0);
    hfs_spec_key(&b, kb, sizeof kb);
    ck_assert_str_ne(ka, kb);

    /* Bounded output, always terminated. */
    char small[8];
    memset(small, 'X', sizeof small);
    hfs_spec_key(&a, small, sizeof small);
    ck_assert_str_eq(small, "model:a");
}
END_TEST

START_TEST(is_sha)
{
    ck_assert_int_eq(hfs_is_sha("0123456789abcdef0123456789abcdef01234567"), 1);
    ck_assert_int_eq(hfs_is_sha("ffffffffffffffffffffffffffffffffffffffff"), 1);
    ck_assert_int_eq(hfs_is_sha("0123456789abcdef0123456789abcdef0123456"), 0);   /* 39 */
    ck_assert_int_eq(hfs_is_sha("0123456789abcdef0123456789abcdef012345678"), 0); /* 41 */
    ck_assert_int_eq(hfs_is_sha("0123456789ABCDEF0123456789abcdef01234567"), 0);  /* upper */
    ck_assert_int_eq(hfs_is_sha("0123456789abcdeg0123456789abcdef01234567"), 0);  /* 'g' */
    ck_assert_int_eq(hfs_is_sha("main"), 0);
    ck_assert_int_eq(hfs_is_sha(""), 0);
    ck_assert_int_eq(hfs_is_sha("0123456789abcdef0123456789abcdef0123456 "), 0);
}
END_TEST

Suite *suite_grammar(void)
{
    Suite *s = suite_create("grammar");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, pct_good);
    tcase_add_test(tc, pct_bad);
    tcase_add_test(tc, pct_too_long);
    tcase_add_test(tc, spec_model);
    tcase_add_test(tc, spec_dataset_pr_sub);
    tcase_add_test(tc, spec_bucket_space);
    tcase_add_test(tc, spec_bad);
    tcase_add_test(tc, spec_long_names);
    tcase_add_test(tc, vpath_dirs);
    tcase_add_test(tc, vpath_repo);
    tcase_add_test(tc, vpath_bucket);
    tcase_add_test(tc, vpath_non_ascii);
    tcase_add_test(tc, vpath_bad);
    tcase_add_test(tc, spec_key);
    tcase_add_test(tc, is_sha);
    suite_add_tcase(s, tc);
    return s;
}
