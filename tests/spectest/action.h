/*
 * action.h — performing a script action: "invoke" an exported function
 * with arguments, or "get" an exported global, on the named or the
 * current module.
 */
#ifndef QYVOL_SPECTEST_ACTION_H
#define QYVOL_SPECTEST_ACTION_H

#include <jansson.h>

#include "session.h"

typedef enum spec_action_outcome {
    SPEC_ACTION_RETURNED, /* values hold the results */
    SPEC_ACTION_TRAPPED,  /* trap is set */
    SPEC_ACTION_FAILED,   /* could not be performed; already counted as a failure */
    SPEC_ACTION_SKIPPED,  /* uses v128 values; already counted as skipped */
} spec_action_outcome;

typedef struct spec_action_result {
    spec_action_outcome outcome;
    qv_val *values;
    size_t count;
    qv_trap *trap;
} spec_action_result;

spec_action_result spec_perform_action(spec_session *s, json_t *action);
void spec_action_result_free(spec_action_result *r);

#endif
