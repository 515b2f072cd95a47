/* ratelimit.c -- token buckets with integer arithmetic (milli-tokens). */
#include "moderation/ratelimit.h"

void ratelimit_init(struct ratelimit *r, uint32_t burst, uint32_t per_sec, uint64_t now_ms) {
  r->burst = burst;
  r->per_sec = per_sec;
  r->per_min = 0;
  r->tokens_milli = (uint64_t)burst * 1000;
  r->last_ms = now_ms;
}

void ratelimit_init_per_min(struct ratelimit *r, uint32_t burst, uint32_t per_min,
                            uint64_t now_ms) {
  ratelimit_init(r, burst, 0, now_ms);
  r->per_min = per_min;
}

static void refill(struct ratelimit *r, uint64_t now_ms) {
  if (now_ms <= r->last_ms)
    return;
  uint64_t cap = (uint64_t)r->burst * 1000;
  uint64_t add, used_ms = now_ms - r->last_ms;
  if (r->per_sec || !r->per_min) {
    add = used_ms * r->per_sec; /* milli-tokens: ms x tokens/s */
  } else {
    /* per_min / 60 milli-tokens a ms: only whole milli-tokens are taken, and the time they
     * stand for, so frequent calls lose nothing to rounding. */
    add = used_ms * r->per_min / 60;
    used_ms = add * 60 / r->per_min;
  }
  r->tokens_milli = r->tokens_milli + add > cap ? cap : r->tokens_milli + add;
  r->last_ms = r->tokens_milli == cap ? now_ms : r->last_ms + used_ms;
}

bool ratelimit_take(struct ratelimit *r, uint64_t now_ms) {
  refill(r, now_ms);
  if (r->tokens_milli < 1000)
    return false;
  r->tokens_milli -= 1000;
  return true;
}

uint64_t ratelimit_wait_ms(const struct ratelimit *r, uint64_t now_ms) {
  struct ratelimit t = *r;
  refill(&t, now_ms);
  if (t.tokens_milli >= 1000)
    return 0;
  if (t.per_sec)
    return (1000 - t.tokens_milli + t.per_sec - 1) / t.per_sec;
  if (t.per_min)
    return ((1000 - t.tokens_milli) * 60 + t.per_min - 1) / t.per_min;
  return UINT64_MAX;
}
