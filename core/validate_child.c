/* validate_child.c — see validate_child.h. */
#include "validate_child.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "child_capture.h"
#include "host.h"
#include "loader.h"
#include "secrets.h"
#include "supervise.h"
#include "util.h"

#define MAX_INPUT (2 * 1024 * 1024)
#define MAX_OUTPUT (1024 * 1024)

static int print_result(json_t *out)
{
    char *text = json_dumps(out, JSON_COMPACT);
    json_decref(out);
    /* The driver may have printed to stdout: our answer is the last line. */
    printf("\n%s\n", text);
    free(text);
    return fflush(stdout) == 0 ? 0 : 1;
}

int cd_validate_driver_main(const char *path)
{
    cd_buf in;
    cd_buf_init(&in);
    char buf[65536];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, stdin)) > 0) {
        if (in.len + r > MAX_INPUT) {
            cd_buf_free(&in);
            return print_result(json_pack("{s:[], s:s}", "errors", "error", "input too large"));
        }
        cd_buf_append(&in, buf, r);
    }
    json_t *config = json_loadb(in.data ? in.data : "", in.len, 0, NULL);
    if (!json_is_object(config)) {
        json_decref(config);
        cd_buf_free(&in);
        return print_result(json_pack("{s:[], s:s}", "errors", "error",
                                      "connection_config is not a JSON object"));
    }
    cd_driver drv;
    char *reason = NULL;
    if (cd_driver_load(path, &drv, &reason) != 0) {
        json_t *o = json_pack("{s:[], s:s}", "errors", "error", reason);
        free(reason);
        json_decref(config);
        cd_buf_free(&in);
        return print_result(o);
    }
    json_t *errors = json_array();
    if (drv.callbacks.validate) {
        cd_run run;
        memset(&run, 0, sizeof run);
        cd_run_init(&run);
        run.info.kind = CD_RUN_VALIDATE;
        run.info.connector_name = "";
        run.info.source_entity = "";
        run.info.run_date = run.info.window_from = run.info.window_to = "";
        run.info.timezone = "UTC";
        run.info.attempt = 1;
        run.info.config_json = in.data;
        run.info.config_json_len = in.len;
        /* Plaintext secrets must not come back inside error messages. */
        run.secrets = cd_secret_set_new();
        cd_secrets_collect_marked(config, drv.config_schema, run.secrets);
        int rc = drv.callbacks.validate(&run);
        json_array_extend(errors, run.config_errors);
        if (rc != CD_OK && json_array_size(errors) == 0) {
            char *m = run.message ? cd_secret_scrub(run.secrets, run.message)
                                  : cd_xstrdup("rejected by the driver");
            json_array_append_new(errors, json_pack("{s:s, s:s}", "field", "", "message", m));
            free(m);
        }
        cd_run_release(&run);
        cd_secret_set_free(run.secrets);
    }
    cd_driver_unload(&drv);
    json_decref(config);
    cd_buf_free(&in);
    return print_result(json_pack("{s:o}", "errors", errors));
}

int cd_validate_driver_run(const char *self_exe, const char *driver_path, const char *config,
                           const char *prefix, int timeout_ms, json_t *errors, char **err)
{
    /* The driver's log lines are of no use here and could echo input. */
    char *argv[] = {(char *)self_exe, "validate-driver", (char *)driver_path, NULL};
    cd_capture c;
    char *cerr_start = NULL;
    if (cd_capture_run(argv, config, 1, timeout_ms, MAX_OUTPUT, &c, &cerr_start) != 0) {
        *err = cd_sprintf("cannot start the validation process: %s", cerr_start);
        free(cerr_start);
        return -1;
    }
    int result = -1;
    if (c.timed_out) {
        *err = cd_sprintf("the driver's validate() did not answer within %d s", timeout_ms / 1000);
    } else if (WIFSIGNALED(c.status)) {
        *err = cd_sprintf("the driver crashed while validating: %s",
                          cd_signal_name(WTERMSIG(c.status)));
    } else {
        const char *line = cd_capture_last_line(&c);
        json_t *o = json_loads(line, 0, NULL);
        const char *cerr = json_string_value(json_object_get(o, "error"));
        if (!json_is_array(json_object_get(o, "errors"))) {
            *err = cd_xstrdup("the validation process printed no answer");
        } else if (cerr) {
            *err = cd_xstrdup(cerr);
        } else {
            result = 0;
            size_t i;
            json_t *e;
            json_array_foreach(json_object_get(o, "errors"), i, e) {
                const char *f = json_string_value(json_object_get(e, "field"));
                const char *m = json_string_value(json_object_get(e, "message"));
                char *field = f && *f ? cd_sprintf("%s.%s", prefix, f) : cd_xstrdup(prefix);
                json_array_append_new(errors, json_pack("{s:s, s:s}", "field", field, "message",
                                                        m ? m : "invalid"));
                free(field);
                result++;
            }
        }
        json_decref(o);
    }
    cd_capture_free(&c);
    return result;
}
