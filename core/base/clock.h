/* The one monotonic clock of the core and the network module (built into both). */
#pragma once
#include <stdint.h>

/* CLOCK_MONOTONIC in milliseconds. */
int64_t hfs_mono_ms(void);
