/*
 * alerts_api.h — the REST handlers of alerts and observability, called by
 * the API's router (api_server.c): GET /metrics (Prometheus text format)
 * and POST /notifications/test.
 */
#ifndef CD_ALERTS_API_H
#define CD_ALERTS_API_H

#include "api_internal.h"

/* GET /metrics: counts from the database, so that every worker reports
 * the same numbers, plus this worker's plugin registry and scheduler. */
void cd_api_metrics(cd_api_req *q, cd_api_resp *r);

/* POST /notifications/test {"channel": NAME}: queues a test message to
 * that channel (202 with its notification id). */
void cd_api_notifications_test(cd_api_req *q, cd_api_resp *r);

#endif
