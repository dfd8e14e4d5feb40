/*
 * templates.h — bank file templates: conf.d/templates/NAME.yaml beside the
 * configuration file (or templates.dir), one per bank, each a `name` and a
 * `format` (see plugins/bank_sftp/format.h). Adding a bank is adding a
 * file: they are read at each run, nothing is compiled in.
 */
#ifndef CD_TEMPLATES_H
#define CD_TEMPLATES_H

#include <jansson.h>

#include "config.h"

/* The templates directory (malloc'd). */
char *cd_templates_dir(const cd_config *cfg);

/* Loads every template: an array of {"name", "file", "description",
 * "format"} sorted by name; files that do not parse are in *bad (an array
 * of {"file", "error"}) when bad != NULL. Never NULL. */
json_t *cd_templates_load(const cd_config *cfg, json_t **bad);

/* When connection_config names a template ("template": "AXIS RECON") and
 * the driver's schema accepts "template_format", sets template_format to
 * that template's format so the driver needs no file access of its own.
 * An unknown name sets nothing: the driver's validation reports it. */
void cd_templates_inject(const cd_config *cfg, const json_t *driver_schema, json_t *config);

/* `connectord templates [--json]`. Returns an exit code. */
int cd_cmd_templates(const cd_config *cfg, int argc, char **argv);

#endif
