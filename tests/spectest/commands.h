/*
 * commands.h — running one command of a spec-test script: module,
 * register, action and the assert_* kinds. Each command is counted exactly
 * once in the session as passed, failed or skipped.
 */
#ifndef QYVOL_SPECTEST_COMMANDS_H
#define QYVOL_SPECTEST_COMMANDS_H

#include "session.h"

void spec_run_command(spec_session *s, const spec_command *cmd);

#endif
