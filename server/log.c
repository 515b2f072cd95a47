/* log.c -- leveled, structured logging to stderr: text or one JSON object per line. */
#include "server/log.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Set once at start-up, before other threads exist; read-only afterwards. */
static enum log_level level = LOG_INFO;
static enum log_format format = LOG_TEXT;
static bool show_ips;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_set_level(enum log_level l) { level = l; }
void log_set_format(enum log_format f) { format = f; }
void log_set_ips(bool on) { show_ips = on; }
bool log_enabled(enum log_level l) { return l <= level; }

int log_parse_level(const char *s) {
  for (int i = 0; i < 4; i++)
    if (strcmp(s, level_names[i]) == 0)
      return i;
  return -EINVAL;
}

int log_parse_format(const char *s) {
  if (!strcmp(s, "text"))
    return LOG_TEXT;
  if (!strcmp(s, "json"))
    return LOG_JSON;
  return -EINVAL;
}

/* A line under construction. The last RESERVE bytes are kept for closing a string, the
 * object and the newline, so a cut line is still one valid line (and valid JSON). */
#define RESERVE 16
struct line {
  char buf[4096];
  size_t len;
};

static size_t room(const struct line *l) {
  return l->len + RESERVE < sizeof(l->buf) ? sizeof(l->buf) - RESERVE - l->len : 0;
}

static void put(struct line *l, const char *s, size_t n) {
  if (n > room(l))
    n = room(l);
  memcpy(l->buf + l->len, s, n);
  l->len += n;
}

static void puts_(struct line *l, const char *s) { put(l, s, strlen(s)); }

static void putf(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct line *l, const char *fmt, ...) {
  char tmp[64];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
  va_end(ap);
  if (n > 0)
    put(l, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Length of the valid UTF-8 sequence at s (1-4), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s) {
  size_t n;
  if (s[0] < 0x80)
    return 1;
  else if (s[0] >= 0xc2 && s[0] <= 0xdf)
    n = 2;
  else if (s[0] >= 0xe0 && s[0] <= 0xef)
    n = 3;
  else if (s[0] >= 0xf0 && s[0] <= 0xf4)
    n = 4;
  else
    return 0;
  for (size_t i = 1; i < n; i++)
    if ((s[i] & 0xc0) != 0x80)
      return 0;
  return n;
}

enum quoting {
  Q_ALWAYS, /* a JSON string */
  Q_AUTO,   /* a text value: quoted when empty or holding a space, '"', '=' or '\\' */
  Q_NEVER,  /* free text */
};

/* Writes s. Control characters and invalid UTF-8 are escaped whatever the quoting, so one
 * event is always one line. */
static void put_str(struct line *l, const char *s, enum quoting q) {
  if (!s)
    s = "";
  bool quote = q == Q_ALWAYS || (q == Q_AUTO && (!*s || strpbrk(s, " \"=\\") != NULL));
  if (quote)
    put(l, "\"", 1);
  const unsigned char *p = (const unsigned char *)s;
  while (*p && room(l) >= 8) { /* a whole escape or character always fits */
    size_t n = utf8_len(p);
    if (quote && (*p == '"' || *p == '\\')) {
      char esc[2] = {'\\', (char)*p};
      put(l, esc, 2);
    } else if (*p == '\n') {
      puts_(l, "\\n");
    } else if (*p == '\t') {
      puts_(l, "\\t");
    } else if (*p < 0x20 || *p == 0x7f) {
      putf(l, "\\u%04x", *p);
    } else if (n == 0) {
      puts_(l, "\\ufffd");
      n = 1;
    } else {
      put(l, (const char *)p, n);
    }
    p += n ? n : 1;
  }
  if (quote)
    l->buf[l->len++] = '"'; /* from the reserve when the text was cut */
}

/* ts, level and (unless NULL) the event. */
static void start_line(struct line *l, enum log_level lv, const char *event) {
  struct timespec ts;
  struct tm tm;
  char t[64];
  clock_gettime(CLOCK_REALTIME, &ts);
  gmtime_r(&ts.tv_sec, &tm);
  snprintf(t, sizeof(t), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
  l->len = 0;
  if (format == LOG_JSON) {
    putf(l, "{\"ts\":\"%s\",\"level\":\"%s\"", t, level_names[lv]);
    if (event) {
      puts_(l, ",\"event\":");
      put_str(l, event, Q_ALWAYS);
    }
  } else {
    putf(l, "%s %-5s ", t, level_names[lv]);
    if (event)
      put_str(l, event, Q_NEVER);
  }
}

static void end_line(struct line *l) {
  if (format == LOG_JSON)
    l->buf[l->len++] = '}';
  l->buf[l->len++] = '\n';
  /* One write per line keeps lines whole when several threads log. */
  fwrite(l->buf, 1, l->len, stderr);
}

void log_event_v(enum log_level lv, const char *event, const struct log_field *f, size_t n) {
  if (lv > level)
    return;
  struct line l;
  start_line(&l, lv, event);
  bool json = format == LOG_JSON;
  for (size_t i = 0; i < n && room(&l) >= 96; i++) { /* a key and a number always fit */
    if (f[i].type == LOG_F_IP && !show_ips)
      continue;
    if (json) {
      put(&l, ",", 1);
      put_str(&l, f[i].key, Q_ALWAYS);
      put(&l, ":", 1);
    } else {
      put(&l, " ", 1);
      puts_(&l, f[i].key);
      put(&l, "=", 1);
    }
    switch (f[i].type) {
    case LOG_F_STR:
    case LOG_F_IP: put_str(&l, f[i].v.s, json ? Q_ALWAYS : Q_AUTO); break;
    case LOG_F_INT: putf(&l, "%" PRId64, f[i].v.i); break;
    case LOG_F_UINT: putf(&l, "%" PRIu64, f[i].v.u); break;
    case LOG_F_BOOL: puts_(&l, f[i].v.b ? "true" : "false"); break;
    case LOG_F_NUM: putf(&l, "%.6g", isfinite(f[i].v.d) ? f[i].v.d : 0.0); break;
    }
  }
  end_line(&l);
}

void log_msg(enum log_level lv, const char *fmt, ...) {
  if (lv > level)
    return;
  char msg[2048];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof(msg), fmt, ap);
  va_end(ap);
  struct line l;
  if (format == LOG_JSON) {
    start_line(&l, lv, "log");
    puts_(&l, ",\"msg\":");
    put_str(&l, msg, Q_ALWAYS);
  } else {
    start_line(&l, lv, NULL);
    put_str(&l, msg, Q_NEVER);
  }
  end_line(&l);
}
