/*
 * agent/status/status_fetch.h: the status verb asks the running agent first: its
 * document carries what only it knows (supervision, events/s, reconciles).
 */
#ifndef CDC_STATUS_FETCH_H
#define CDC_STATUS_FETCH_H

#include "base/common.h"

#include <jansson.h>

/* GET http://<listen>/status; NULL (nothing logged) when no agent answers.
 * Caller json_decref()s. */
json_t *status_fetch(const char *listen);

#endif
