/* xxhash from Debian's libxxhash-dev in its header-only (inline) form: the same library, but
 * compiled in, so the shim adds no shared object to load to every process it is preloaded into. */
#pragma once
#define XXH_INLINE_ALL
#include <xxhash.h>
