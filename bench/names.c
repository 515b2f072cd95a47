/* names.c -- the short names of behaviours, errors and figures (bench.h), for tables and JSON. */
#include "bench/bench.h"

const char *const bench_behaviour_names[BH_COUNT] = {"stay", "skip", "skipnow", "refresh",
                                                     "vanish", "report"};
const char *const bench_err_names[BE_COUNT] = {
    "ws_connect",   "ws_closed", "protocol",      "bad_answer",   "ice",
    "dtls",         "srtp",      "ready_timeout", "media_failed", "rtp",
    "partner_video", "missing_media", "tcp"};
const char *const bench_metric_names[BM_COUNT] = {
    "ready",           "start_to_matched", "match_to_keyframe", "next_to_matched",
    "next_to_frame",   "refresh_to_media", "loss_audio",        "loss_video",
    "jitter_audio",    "jitter_video"};
const char *const bench_metric_units[BM_COUNT] = {"ms", "ms", "ms", "ms", "ms",
                                                  "ms", "%",  "%",  "ms", "ms"};
