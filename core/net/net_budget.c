/* Operation deadlines (net_budget.h). */
#include "net_budget.h"

void hfs_budget_start(hfs_budget *b, int timeout_s, int64_t now_ms)
{
    b->timeout_ms = (int64_t)(timeout_s > 0 ? timeout_s : 30) * 1000;
    b->end_ms = now_ms + b->timeout_ms;
    b->moved = b->mark = 0;
}

void hfs_budget_moved(hfs_budget *b, uint64_t n, int64_t now_ms)
{
    b->moved += n;
    /* Progress counts in whole windows: one byte now and then must not buy more time. */
    if (b->moved - b->mark >= (uint64_t)HFS_MIN_RATE * (uint64_t)(b->timeout_ms / 1000)) {
        b->mark = b->moved;
        b->end_ms = now_ms + b->timeout_ms;
    }
}

int64_t hfs_budget_left_ms(const hfs_budget *b, int64_t now_ms)
{
    return b->end_ms - now_ms;
}
