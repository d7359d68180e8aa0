/* Each tests/unit/test_<x>.c defines Suite *suite_<x>(void). main.c runs the ones linked in. */
#pragma once
#include <check.h>

#define HFS_SUITES(X)                                                                              \
    X(grammar)                                                                                     \
    X(paths)                                                                                       \
    X(index)                                                                                       \
    X(chunkmap)                                                                                    \
    X(chunkclaim)                                                                                  \
    X(blob_hash)                                                                                   \
    X(cachepath)                                                                                   \
    X(config)                                                                                      \
    X(json)                                                                                        \
    X(urlenc)                                                                                      \
    X(http)                                                                                        \
    X(overlay)                                                                                     \
    X(push)                                                                                        \
    X(near)                                                                                        \
    X(hubcache)                                                                                    \
    X(elfdyn)                                                                                      \
    X(log)                                                                                         \
    X(libc_faults)

#define HFS_DECL(n) Suite *suite_##n(void) __attribute__((weak));
HFS_SUITES(HFS_DECL)
