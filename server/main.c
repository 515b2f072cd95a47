/* main.c -- the tandem server process: configuration, signals, the event loop. */
#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <uv.h>

#include "server/app.h"
#include "server/config.h"
#include "server/log.h"

static struct app *app;
static uv_signal_t sigint, sigterm, sighup;
static int stopping;

static void on_closed(void *arg) {
  (void)arg;
  uv_close((uv_handle_t *)&sigint, NULL);
  uv_close((uv_handle_t *)&sigterm, NULL);
  uv_close((uv_handle_t *)&sighup, NULL);
}

/* SIGHUP reloads tls_cert and tls_key; calls and connections carry on. */
static void on_sighup(uv_signal_t *h, int signum) {
  (void)h;
  (void)signum;
  if (!stopping)
    app_reload_tls(app);
}

/* SIGTERM drains (calls continue until they end or drain_timeout_ms); SIGINT, or a second
 * signal, closes everything now. */
static void on_signal(uv_signal_t *h, int signum) {
  (void)h;
  if (signum == SIGTERM && stopping == 0) {
    stopping = 1;
    app_drain(app, on_closed, NULL);
    return;
  }
  if (stopping == 2) {
    log_event(LOG_WARN, "exit", LF_STR("signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"),
              LF_STR("how", "exit at once"));
    exit(1);
  }
  stopping = 2;
  log_event(LOG_INFO, "stop", LF_STR("signal", signum == SIGTERM ? "SIGTERM" : "SIGINT"),
            LF_STR("how", "closing now"));
  app_close(app, on_closed, NULL);
}

int main(int argc, char **argv) {
  struct config cfg;
  char err[512] = "";
  int rc = config_load(&cfg, argc, argv, err, sizeof(err));
  if (rc == 1)
    return 0;
  if (rc) {
    fprintf(stderr, "tandem: %s\n", err);
    return 2;
  }
  /* config_load checked both names. */
  log_set_level((enum log_level)log_parse_level(cfg.log_level));
  log_set_format((enum log_format)log_parse_format(cfg.log_format));
  log_set_ips(cfg.log_ips);
  signal(SIGPIPE, SIG_IGN);
  if (cfg.data_dir[0] && mkdir(cfg.data_dir, 0750) && errno != EEXIST)
    log_event(LOG_WARN, "data_dir_failed", LF_STR("path", cfg.data_dir),
              LF_STR("error", strerror(errno)));

  uv_loop_t *loop = uv_default_loop();
  rc = app_new(loop, &cfg, &app);
  if (rc) {
    uv_run(loop, UV_RUN_DEFAULT);
    return 1;
  }
  uv_signal_init(loop, &sigint);
  uv_signal_start(&sigint, on_signal, SIGINT);
  uv_signal_init(loop, &sigterm);
  uv_signal_start(&sigterm, on_signal, SIGTERM);
  uv_signal_init(loop, &sighup);
  uv_signal_start(&sighup, on_sighup, SIGHUP);
  uv_run(loop, UV_RUN_DEFAULT);
  uv_loop_close(loop);
  return 0;
}
