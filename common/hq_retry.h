/* Retry policy arithmetic. */
#ifndef HQ_RETRY_H
#define HQ_RETRY_H
#include <stdint.h>
#include "hq_time.h"

/* Delay after failed attempt `step` (1-based within the current round), with
 * +-10 % jitter drawn from `rnd` in [0,1). Returns -1 when the schedule is
 * exhausted (step > s->n): the delivery is dead. */
int64_t hq_retry_delay(const hq_schedule *s, int step, double rnd);
/* Parses a Retry-After value (delta seconds or an IMF-fixdate HTTP date)
 * relative to now_ms. Returns delay in ms (>= 0) or -1 if unparsable. */
int64_t hq_retry_after_parse(const char *v, int64_t now_ms);
/* The delay to use: max(scheduled, retry_after) capped at the last step of
 * the schedule; retry_after < 0 means none given. */
int64_t hq_retry_combine(const hq_schedule *s, int64_t scheduled, int64_t retry_after);

#endif
