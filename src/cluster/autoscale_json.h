/*
 * autoscale_json.h — an autoscale spec (autoscale.h) as JSON, one form for
 * the master's API (POST /v1/apps/NAME/autoscale), its store and its
 * answers: {"min","max","cpu_threshold","target_inflight","window_ms"},
 * the last three optional (a target is needed: one of the two).
 */
#ifndef QYVOL_CLUSTER_AUTOSCALE_JSON_H
#define QYVOL_CLUSTER_AUTOSCALE_JSON_H

#include <jansson.h>

#include "cluster/autoscale.h"

/* The spec as JSON; null when autoscaling is off. */
json_t *autoscale_spec_to_json(const autoscale_spec *spec);

/* Read j into *spec: NULL, or a message naming what is wrong (then *spec
 * is unchanged). */
const char *autoscale_spec_from_json(const json_t *j, autoscale_spec *spec);

#endif
