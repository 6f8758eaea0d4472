/* Millisecond clocks shared by every role. */
#ifndef FM_CLOCK_H
#define FM_CLOCK_H
#include <stdint.h>

int64_t fm_now_ms(void);  /* CLOCK_MONOTONIC: deadlines and durations */
int64_t fm_wall_ms(void); /* CLOCK_REALTIME: timestamps shown to people */
#endif
