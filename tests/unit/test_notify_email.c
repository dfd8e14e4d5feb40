/*
 * test_notify_email.c — an alert email that strict MTAs accept: no line
 * over RFC 5322's 998 octets however long the run's error, and a subject
 * with a long non-ASCII connector name as folded RFC 2047 words of at most
 * 75 characters that decode back to the name, never cut inside a
 * character.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "notify.h"

static char *render(const char *connector, const char *error)
{
    json_t *payload = json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:i}", "connector", connector,
                                "run_id", "7", "run_type", "SCHEDULED", "run_date", "2026-03-09",
                                "error", error, "attempt", 1, "max_attempts", 1);
    cd_notify_msg m = {.notification_id = 1, .delivery_id = 2, .kind = "RUN_FAILED",
                       .payload = payload, .created_at = "2026-03-10T00:00:00Z"};
    char *to[] = {"ops@example.com"};
    cd_channel ch = {.name = "mail", .type = CD_CHANNEL_EMAIL, .from = "cd@example.com",
                     .to = to, .nto = 1};
    char *mail = cd_notify_email(&m, &ch, 1773100800);
    json_decref(payload);
    return mail;
}

static size_t longest_line(const char *mail)
{
    size_t best = 0;
    for (const char *p = mail; *p;) {
        const char *e = strstr(p, "\r\n");
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n > best)
            best = n;
        p += n + (e ? 2 : 0);
    }
    return best;
}

static void test_long_error_is_wrapped(void **state)
{
    (void)state;
    char error[2001];
    for (int i = 0; i < 2000; i++)
        error[i] = i % 3 == 0 ? (char)0xC3 : i % 3 == 1 ? (char)0xA9 : 'x'; /* é x, é x ... */
    error[2000] = '\0';
    error[1999] = 'x'; /* never end inside a character */
    error[1998] = 'x';
    char *mail = render("Bank", error);
    assert_non_null(mail);
    assert_true(longest_line(mail) <= 998);
    /* every byte of the error is still there, only line breaks between */
    char *body = strstr(mail, "\r\n\r\n");
    assert_non_null(body);
    size_t k = 0;
    for (const char *p = strstr(body, "Error: ") + 7; *p && k < 2000; p++) {
        if (*p == '\r' || *p == '\n')
            continue;
        assert_int_equal((unsigned char)*p, (unsigned char)error[k]);
        k++;
    }
    assert_int_equal(k, 2000);
    free(mail);
}

static void test_long_non_ascii_subject_is_folded(void **state)
{
    (void)state;
    char name[751];
    for (int i = 0; i < 250; i++)
        memcpy(name + 3 * i, "\xE6\xBC\xA2", 3); /* 漢 */
    name[750] = '\0';
    char *mail = render(name, "boom");
    assert_non_null(mail);
    assert_true(longest_line(mail) <= 998);
    /* Decode every encoded word of the Subject and join them. */
    char *subj = strstr(mail, "\r\nSubject:");
    assert_non_null(subj);
    char decoded[4096] = "";
    size_t dlen = 0;
    for (char *w = strstr(subj, "=?UTF-8?B?"); w && w < strstr(subj + 2, "\r\nMessage-ID");
         w = strstr(w + 1, "=?UTF-8?B?")) {
        char *end = strstr(w + 10, "?=");
        assert_non_null(end);
        assert_true(end + 2 - w <= 75);
        unsigned char out[64];
        int len = (int)(end - (w + 10));
        int n = EVP_DecodeBlock(out, (unsigned char *)w + 10, len);
        assert_true(n > 0);
        for (int pad = len - 1; pad >= 0 && w[10 + pad] == '='; pad--)
            n--; /* EVP_DecodeBlock counts the padding as bytes */
        /* every word is whole characters: it starts on a lead byte */
        assert_true((out[0] & 0xC0) != 0x80);
        memcpy(decoded + dlen, out, (size_t)n);
        dlen += (size_t)n;
    }
    decoded[dlen] = '\0';
    assert_non_null(strstr(decoded, name));
    free(mail);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_long_error_is_wrapped),
        cmocka_unit_test(test_long_non_ascii_subject_is_folded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
