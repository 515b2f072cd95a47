/* log.h -- leveled logging to stderr, one line per event. */
#ifndef TANDEM_LOG_H
#define TANDEM_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* The process-wide level; set once at start-up from the config. */
void log_set_level(enum log_level l);
int log_parse_level(const char *s); /* level, or -EINVAL */
void log_msg(enum log_level l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
