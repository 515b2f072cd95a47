/* classify.h -- automated moderation: a snapshot of every live visitor, once per
 * classifier_interval_ms, posted to the classifier webhook; its verdicts kick or ban. */
#ifndef TANDEM_CLASSIFY_H
#define TANDEM_CLASSIFY_H

struct app;

/* At most this many visitors are between snapshot and verdict at once; a visitor whose turn
 * comes while that many are, or while its own previous one is, is skipped this round. */
#define CLASSIFY_MAX_INFLIGHT 16

/* Starts the rounds when cfg.classifier_url is set (else does nothing): every interval, each
 * peer whose media session is READY gets one turn, the turns spread evenly over the interval
 * (those due within 250 ms taken together while fewer than half the cap are out).
 * A turn posts the visitor's picture (longer side at most cfg.classifier_max_side), the
 * cached one when it is at most one interval old, else a new one; a turn whose picture is the
 * one the classifier judged at the visitor's previous turn is skipped (nothing new to judge).
 * The cache serves one interval only, so no visitor is skipped twice running.
 * On the control loop, after moderate_open(). 0, or a negative errno with the reason logged. */
int classify_start(struct app *a);

/* Stops the rounds and the classifier (a->classify becomes NULL): jobs in flight are dropped,
 * and a verdict that has not come acts on nobody. done(arg) runs once everything is closed,
 * from a later loop iteration. Call it only while a->classify is set (classify_start started
 * something); at most once. */
void classify_stop(struct app *a, void (*done)(void *arg), void *arg);

/* The tandem_classifier_* counters and gauges (f is a FILE *); all 0 when off. */
void classify_metrics(void *f, struct app *a);

#endif
