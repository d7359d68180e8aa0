/* Results that must not be dropped, and assertions. A function returning 0 or -errno is
 * declared HFS_MUST_CHECK: a caller that ignores its failure does not compile (gcc does not
 * accept a (void) cast either: a deliberate drop says why, in an if). HFS_ASSERT checks an
 * invariant in the sanitizer build (make asan defines HFS_ASSERTS) and costs nothing else. */
#pragma once
#include <stdio.h>
#include <stdlib.h>

#define HFS_MUST_CHECK __attribute__((warn_unused_result))

#ifdef HFS_ASSERTS
#define HFS_ASSERT(cond)                                                                           \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "hfshim: %s:%d: assertion failed: %s\n", __FILE__, __LINE__, #cond);   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)
#else
#define HFS_ASSERT(cond) ((void)sizeof(!(cond)))
#endif
