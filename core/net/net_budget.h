/* The time one network operation may block its caller (HF_SHIM_TIMEOUT): an API call with its
 * retries, one page of a listing, one batch of ranges of a file. An operation ends `timeout`
 * after it started unless it keeps progressing: each time it has moved (received or sent)
 * another HFS_MIN_RATE x timeout bytes, its end moves to `timeout` from then. A server that
 * stalls, or drip-feeds bytes slower than HFS_MIN_RATE, is given up on within `timeout`; a
 * large transfer that moves faster never is. Pure arithmetic on a caller-given clock, so it is
 * unit-tested without a network. */
#pragma once
#include "clock.h"
#include <stdint.h>

/* Slower than this an operation is not progressing (bytes per second). */
#define HFS_MIN_RATE (64u << 10)

typedef struct {
    int64_t timeout_ms;
    int64_t end_ms; /* CLOCK_MONOTONIC */
    uint64_t moved; /* bytes so far */
    uint64_t mark;  /* `moved` when the end last moved */
} hfs_budget;

void hfs_budget_start(hfs_budget *b, int timeout_s, int64_t now_ms);
/* n more bytes moved at now_ms. */
void hfs_budget_moved(hfs_budget *b, uint64_t n, int64_t now_ms);
/* Milliseconds left (<= 0: the operation has timed out). */
int64_t hfs_budget_left_ms(const hfs_budget *b, int64_t now_ms);
