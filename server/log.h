/* log.h -- leveled, structured logging to stderr: one line per event, as text or JSON. */
#ifndef TANDEM_LOG_H
#define TANDEM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };
enum log_format { LOG_TEXT = 0, LOG_JSON };

/* Process-wide settings, made once at start-up from the config, before any thread starts.
 * log_set_ips(false) (the default) drops every LF_IP field. */
void log_set_level(enum log_level l);
void log_set_format(enum log_format f);
void log_set_ips(bool on);
int log_parse_level(const char *s);  /* the level, or -EINVAL */
int log_parse_format(const char *s); /* the format, or -EINVAL */
bool log_enabled(enum log_level l);

/* One field of an event. Strings are borrowed for the call. */
enum log_field_type { LOG_F_STR, LOG_F_INT, LOG_F_UINT, LOG_F_BOOL, LOG_F_NUM, LOG_F_IP };
struct log_field {
  const char *key;
  enum log_field_type type;
  union {
    const char *s;
    int64_t i;
    uint64_t u;
    bool b;
    double d;
  } v;
};
#define LF_STR(k, x) ((struct log_field){.key = (k), .type = LOG_F_STR, .v.s = (x)})
#define LF_INT(k, x) ((struct log_field){.key = (k), .type = LOG_F_INT, .v.i = (int64_t)(x)})
#define LF_UINT(k, x) ((struct log_field){.key = (k), .type = LOG_F_UINT, .v.u = (uint64_t)(x)})
#define LF_BOOL(k, x) ((struct log_field){.key = (k), .type = LOG_F_BOOL, .v.b = (x)})
#define LF_NUM(k, x) ((struct log_field){.key = (k), .type = LOG_F_NUM, .v.d = (double)(x)})
/* A visitor's address: written only with log_ips = true. */
#define LF_IP(k, x) ((struct log_field){.key = (k), .type = LOG_F_IP, .v.s = (x)})

/* Writes one event: text
 *   2024-05-01T12:00:00.123Z info  match a=12 b=15 shared=1
 * or JSON, one object per line, the event's fields after ts, level and event:
 *   {"ts":"2024-05-01T12:00:00.123Z","level":"info","event":"match","a":12,"b":15,"shared":1}
 * Safe from any thread (each line is one write). At least one field. */
void log_event_v(enum log_level l, const char *event, const struct log_field *f, size_t n);
#define log_event(l, event, ...)                                                             \
  do {                                                                                       \
    if (log_enabled(l))                                                                      \
      log_event_v((l), (event), (const struct log_field[]){__VA_ARGS__},                     \
                  sizeof((const struct log_field[]){__VA_ARGS__}) / sizeof(struct log_field)); \
  } while (0)

/* Free text, for rare lines that are not an event of their own: event "log", field msg. */
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
