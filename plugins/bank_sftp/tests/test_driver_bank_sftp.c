/*
 * test_driver_bank_sftp.c — unit tests of the bank_sftp driver with the
 * mock host: descriptor, schema, validation rules, and test() failing the
 * right way against a closed port and a server that speaks no SSH. The
 * host-key and listing steps against a real sshd belong to the integration
 * tests.
 */
#include <connectord/mockhost.h>

#include <arpa/inet.h>
#include <jansson.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "driver_test.h"

/* The smallest valid inline format. */
#define FMT "\"format\": {\"type\": \"csv\", \"columns\": {\"bank_ref\": \"R\"," \
            " \"amount\": \"A\", \"transaction_date\": \"D\"}}"

static const char pin[] = "SHA256:uNiVztksCsDhcc0u9e8BujQXVUpKZIDTMczCvj3tD2s";

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A listening loopback socket; *port gets its port. */
static int listen_loopback(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t sl = sizeof sa;
    assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs(sa.sin_port);
    return fd;
}

static void test_magic(void **state)
{
    const cd_driver_magic *mg = connectord_driver_magic();
    assert_int_equal(mg->magic, CD_DRIVER_MAGIC);
    assert_int_equal(mg->abi_major, CD_PLUGIN_ABI_MAJOR);
    assert_int_equal(mg->struct_size, sizeof(cd_driver_magic));
    assert_string_equal(mg->name, "bank_sftp");
    assert_string_equal(mg->version, "1.2.0");
    assert_string_equal(mg->vendor, "connectord");
    assert_int_equal(mg->category, CD_CATEGORY_BANK_SFTP);
    assert_int_equal(mg->dataset, CD_DATASET_BANK_STATEMENT);
}

static void test_schema(void **state)
{
    cd_mock_host *m = load_driver("{}");
    json_error_t err;
    json_t *s = json_loads(cd_mock_callbacks(m)->describe_config(), 0, &err);
    if (!s)
        fail_msg("schema is not JSON: %s at %d", err.text, err.position);
    json_t *props = json_object_get(s, "properties");
    const char *secrets[] = {"password", "private_key", "private_key_passphrase"};
    for (size_t i = 0; i < 3; i++)
        assert_true(json_is_true(json_object_get(json_object_get(props, secrets[i]), "writeOnly")));
    json_t *pgp = json_object_get(json_object_get(props, "pgp"), "properties");
    assert_true(json_is_true(json_object_get(json_object_get(pgp, "private_key"), "writeOnly")));
    assert_null(json_object_get(json_object_get(props, "host"), "writeOnly"));
    json_decref(s);
    cd_mock_free(m);
}

static void test_validate(void **state)
{
    cd_mock_host *m = load_driver("{\"host\": \"sftp.bank.example\", \"username\": \"u\","
                           " \"password\": {\"secret\": \"env:PW\"}, \"remote_path\": \"/out\","
                           " \"host_key_sha256\": \"%s\", %s}", pin, FMT);
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);
    m = load_driver("{\"host\": \"h\", \"username\": \"u\", \"auth_type\": \"private_key\","
             " \"private_key\": \"-----BEGIN\", \"remote_path\": \"/out\","
             " \"known_hosts_file\": \"/etc/ssh/ssh_known_hosts\", %s}", FMT);
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);

    /* a placeholder typo would match nothing day after day, as if late */
    m = load_driver("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                    " \"remote_path\": \"/out\", \"host_key_sha256\": \"%s\","
                    " \"file_pattern\": \"AX_{YYYYMMD}_{SEQ}.csv\", %s}", pin, FMT);
    assert_int_equal(cd_mock_validate(m), CD_ERR_CONFIG);
    assert_true(cd_mock_has_config_error(m, "file_pattern"));
    cd_mock_free(m);
    m = load_driver("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                    " \"remote_path\": \"/out\", \"host_key_sha256\": \"%s\","
                    " \"file_pattern\": \"AX_{DDMMMYYYY}_{date}_{SEQ}.csv\", %s}", pin, FMT);
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);

    /* neither host key option */
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\"}", "host_key_sha256");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"host_key_sha256\": \"abc\"}", "host_key_sha256");
    expect_invalid("{\"username\": \"u\", \"password\": \"p\", \"remote_path\": \"/out\","
                   " \"known_hosts_file\": \"/k\"}", "host");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"remote_path\": \"/out\","
                   " \"known_hosts_file\": \"/k\"}", "password");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"out\", \"known_hosts_file\": \"/k\"}", "remote_path");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\", \"port\": 70000,"
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\"}", "port");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                   " \"post_action\": \"move\"}", "processed_path");
}

static void test_test_refused(void **state)
{
    uint16_t port;
    int fd = listen_loopback(&port);
    close(fd);
    cd_mock_host *m = load_driver("{\"host\": \"127.0.0.1\", \"port\": %u, \"username\": \"u\","
                           " \"password\": \"p\", \"remote_path\": \"/\", \"host_key_sha256\": \"%s\", " FMT "}",
                           port, pin);
    double t0 = now_s();
    assert_int_equal(cd_mock_test(m), CD_ERR_TRANSIENT);
    assert_true(now_s() - t0 < 2.0);
    assert_non_null(strstr(cd_mock_message(m), "cannot connect to 127.0.0.1"));
    assert_non_null(strstr(cd_mock_message(m), "refused"));
    assert_int_equal(cd_mock_step_count(m), 1);
    assert_string_equal(cd_mock_step_name(m, 0), "connect");
    assert_false(cd_mock_step_passed(m, 0));
    cd_mock_free(m);
}

/* Accepts one connection and answers with something that is not SSH. */
static void *not_ssh_server(void *arg)
{
    int lfd = *(int *)arg;
    int c = accept(lfd, NULL, NULL);
    if (c >= 0) {
        static const char junk[] = "HTTP/1.0 400 Bad Request\r\n\r\n";
        ssize_t w = write(c, junk, sizeof junk - 1);
        (void)w;
        close(c);
    }
    return NULL;
}

/* A loopback server thread serving one connection, and the driver's
 * `test` run against it with the given timeouts. */
typedef struct one_server {
    int lfd;
    pthread_t thread;
    cd_mock_host *m;
    double took; /* seconds the test took */
} one_server;

static void test_against(one_server *sv, void *(*serve)(void *), uint32_t connect_s,
                         uint32_t request_s)
{
    uint16_t port;
    sv->lfd = listen_loopback(&port);
    assert_int_equal(pthread_create(&sv->thread, NULL, serve, &sv->lfd), 0);
    sv->m = load_driver("{\"host\": \"127.0.0.1\", \"port\": %u, \"username\": \"u\","
                        " \"password\": \"p\", \"remote_path\": \"/\", \"host_key_sha256\": \"%s\", " FMT "}",
                        port, pin);
    cd_mock_set_http_timeouts(sv->m, connect_s, request_s);
    double t0 = now_s();
    assert_int_equal(cd_mock_test(sv->m), CD_ERR_TRANSIENT);
    sv->took = now_s() - t0;
    assert_non_null(strstr(cd_mock_message(sv->m), "SSH handshake with 127.0.0.1"));
    long i = cd_mock_find_step(sv->m, "handshake");
    assert_true(i >= 0 && !cd_mock_step_passed(sv->m, (size_t)i));
}

/* Frees the driver first: that closes its connection, which ends a
 * server still reading. */
static void server_done(one_server *sv)
{
    cd_mock_free(sv->m);
    pthread_join(sv->thread, NULL);
    close(sv->lfd);
}

static void test_test_not_ssh(void **state)
{
    one_server sv;
    test_against(&sv, not_ssh_server, 2, 3);
    assert_true(sv.took < 5.0);
    long i = cd_mock_find_step(sv.m, "connect");
    assert_true(i >= 0 && cd_mock_step_passed(sv.m, (size_t)i));
    assert_int_equal(cd_mock_find_step(sv.m, "auth"), -1); /* no credentials sent */
    server_done(&sv);
}

/* Accepts one connection and says nothing until the client goes away. */
static void *silent_server(void *arg)
{
    int lfd = *(int *)arg;
    int c = accept(lfd, NULL, NULL);
    if (c >= 0) {
        char buf[256];
        while (read(c, buf, sizeof buf) > 0)
            ;
        close(c);
    }
    return NULL;
}

/* A server that accepts and never speaks: the handshake gives up within
 * the request timeout, not never. */
static void test_test_silent_server(void **state)
{
    one_server sv;
    test_against(&sv, silent_server, 1, 2);
    assert_true(sv.took >= 1.5 && sv.took < 5.0);
    server_done(&sv);
}

static void test_run_invalid_config(void **state)
{
    cd_mock_host *m = load_driver("{\"host\": \"h\"}");
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_CONFIG);
    assert_non_null(strstr(cd_mock_message(m), "invalid"));
    assert_int_equal(cd_mock_record_count(m), 0);
    cd_mock_free(m);
}

static void test_validate_format(void **state)
{
    /* a template name the host did not resolve, a format without its
     * required columns, a bad date format */
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                   " \"template\": \"NO SUCH BANK\"}", "template");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                   " \"format\": {\"type\": \"csv\", \"columns\": {\"amount\": \"A\"}}}",
                   "format.columns.bank_ref");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                   " \"format\": {\"type\": \"txt\", \"columns\": {\"bank_ref\": \"R\","
                   " \"amount\": \"A\", \"transaction_date\": \"D\"}}}", "format.delimiter");
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                   " \"template\": \"AXIS BANK\", \"template_format\": {\"type\": \"txt\","
                   " \"delimiter\": \"~\", \"columns\": {\"bank_ref\": \"PRNNo\","
                   " \"amount\": \"Amount\", \"transaction_date\": \"Date\"}},"
                   " \"format\": {\"date_format\": \"HH:mm\"}}", "format.date_format");
    /* 12-hour tokens parse_one does not know: no date would ever match */
    expect_invalid("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                   " \"format\": {\"type\": \"csv\", \"date_format\": \"dd/MM/yyyy hh:mm a\","
                   " \"columns\": {\"bank_ref\": \"R\", \"amount\": \"A\","
                   " \"transaction_date\": \"D\"}}}", "format.date_format");
    /* a value that is not text: ignored, the default was used in its
     * place (the first sheet for "sheet": 2, rupees for paise, UTF-8) */
    static const char *const not_text[][2] = {
        {"\"sheet\": 2", "format.sheet"},
        {"\"amount_unit\": [\"paise\"]", "format.amount_unit"},
        {"\"encoding\": 1252", "format.encoding"},
        {"\"date_format\": {\"d\": 1}", "format.date_format"},
    };
    for (size_t i = 0; i < sizeof not_text / sizeof not_text[0]; i++) {
        char *cfg = NULL;
        assert_true(asprintf(&cfg, "{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                                   " \"format\": {\"type\": \"xlsx\", %s, \"columns\": {\"bank_ref\":"
                                   " \"R\", \"amount\": \"A\", \"transaction_date\": \"D\"}}}",
                             not_text[i][0]) > 0);
        expect_invalid(cfg, not_text[i][1]);
        free(cfg);
    }
    cd_mock_host *m = load_driver("{\"host\": \"h\", \"username\": \"u\", \"password\": \"p\","
                   " \"remote_path\": \"/out\", \"known_hosts_file\": \"/k\","
                   " \"template\": \"AXIS BANK\", \"template_format\": {\"type\": \"txt\","
                   " \"delimiter\": \"~\", \"columns\": {\"bank_ref\": \"PRNNo\","
                   " \"amount\": \"Amount\", \"transaction_date\": \"Date\"}},"
                   " \"format\": {\"date_format\": \"dd-MM-yyyy\", \"sheet\": null}}");
    assert_int_equal(cd_mock_validate(m), CD_OK);
    cd_mock_free(m);
}

/* run() needs the ABI 1.1 work directory before it touches the network. */
static void test_run_needs_work_dir(void **state)
{
    cd_mock_host *m = load_driver("{\"host\": \"127.0.0.1\", \"port\": 1, \"username\": \"u\","
                           " \"password\": \"p\", \"remote_path\": \"/\", \"host_key_sha256\": \"%s\", " FMT "}",
                           pin);
    cd_mock_set_kind(m, CD_RUN_MANUAL);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_PERMANENT);
    assert_non_null(strstr(cd_mock_message(m), "no work directory"));
    /* with one, the run gets as far as the (closed) port */
    cd_mock_set_work_dir(m, "/tmp");
    cd_mock_reset(m);
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    assert_non_null(strstr(cd_mock_message(m), "cannot connect to 127.0.0.1:1"));
    assert_int_equal(cd_mock_file_record_count(m), 0);
    cd_mock_free(m);
}

/* ABI 1.2: the driver asks to be called back after the commit (the mock
 * host offers the whole table). After a run that loaded nothing there is
 * nothing to move: the callback neither connects nor logs. */
static void test_committed_after_nothing_loaded(void **state)
{
    cd_mock_host *m = load_driver("{\"host\": \"127.0.0.1\", \"port\": 1, \"username\": \"u\","
                           " \"password\": \"p\", \"remote_path\": \"/\", \"host_key_sha256\": \"%s\","
                           " \"post_action\": \"move\", \"processed_path\": \"/done\", " FMT "}",
                           pin);
    assert_non_null(cd_mock_callbacks(m)->committed);
    cd_mock_set_kind(m, CD_RUN_MANUAL);
    cd_mock_set_work_dir(m, "/tmp");
    assert_int_equal(cd_mock_run_driver(m), CD_ERR_TRANSIENT);
    size_t logs = cd_mock_log_count(m);
    assert_int_equal(cd_mock_committed(m), 1);
    assert_int_equal(cd_mock_log_count(m), logs);
    assert_false(cd_mock_log_contains(m, "post_action"));
    cd_mock_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_magic),         cmocka_unit_test(test_schema),
        cmocka_unit_test(test_validate),      cmocka_unit_test(test_test_refused),
        cmocka_unit_test(test_test_not_ssh),  cmocka_unit_test(test_test_silent_server),
        cmocka_unit_test(test_run_invalid_config),
        cmocka_unit_test(test_validate_format),
        cmocka_unit_test(test_run_needs_work_dir),
        cmocka_unit_test(test_committed_after_nothing_loaded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
