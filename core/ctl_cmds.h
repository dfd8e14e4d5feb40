/* ctl_cmds.h — connectorctl's commands; each returns an exit code. Their
 * arguments have been checked by connectorctl.c (ids are digits; NULL is
 * an option not given). */
#ifndef CD_CTL_CMDS_H
#define CD_CTL_CMDS_H

#include "ctl.h"

int ctl_list(const ctl *c, const char *status, const char *type, const char *search);
int ctl_show(const ctl *c, const char *id);
int ctl_create(const ctl *c, const char *file);
int ctl_edit(const ctl *c, const char *id, const char *file);
int ctl_delete(const ctl *c, const char *id, int force);
int ctl_pause(const ctl *c, const char *id, int pause);
int ctl_test(const ctl *c, const char *id);
int ctl_run(const ctl *c, const char *id, const char *date, int wait);
/* before: the cursor a previous page printed (next_before), or NULL. */
int ctl_history(const ctl *c, const char *id, const char *limit, const char *offset,
                const char *status, const char *type, const char *before);
/* The connector's audit trail, newest first; before as for history. */
int ctl_audit(const ctl *c, const char *id, const char *limit, const char *offset,
              const char *before);
int ctl_logs(const ctl *c, const char *id, const char *run_id);
int ctl_plugins(const ctl *c);
int ctl_backfill(const ctl *c, const char *id, const char *from, const char *to, int wait);

#endif
