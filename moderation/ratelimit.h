/* ratelimit.h -- token buckets for chat, connects and other per-peer limits. Pure: the
 * caller hands in the time. */
#ifndef TANDEM_RATELIMIT_H
#define TANDEM_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

/* A bucket of `burst` tokens refilled at `per_sec` tokens a second. Transparent so it can be
 * embedded; fields are private. */
struct ratelimit {
  uint32_t burst;
  uint32_t per_sec;
  uint32_t per_min;       /* used instead of per_sec when per_sec is 0 */
  uint64_t tokens_milli; /* tokens x 1000 */
  uint64_t last_ms;
};

void ratelimit_init(struct ratelimit *r, uint32_t burst, uint32_t per_sec, uint64_t now_ms);
/* The same with a refill of per_min tokens a minute (offers, resumes: rarer than chat). */
void ratelimit_init_per_min(struct ratelimit *r, uint32_t burst, uint32_t per_min,
                            uint64_t now_ms);

/* Takes one token if there is one: true = allowed. */
bool ratelimit_take(struct ratelimit *r, uint64_t now_ms);

/* Milliseconds until a token is available (0 if one is). */
uint64_t ratelimit_wait_ms(const struct ratelimit *r, uint64_t now_ms);

#endif
