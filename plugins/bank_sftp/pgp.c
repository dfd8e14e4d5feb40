/* pgp.c — see pgp.h. */
#include "pgp.h"

#include <errno.h>
#include <fcntl.h>
#include <gpgme.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cdc.h"

int bs_pgp_name(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && (strcasecmp(name + n - 4, ".pgp") == 0 || strcasecmp(name + n - 4, ".gpg") == 0 ||
                     strcasecmp(name + n - 4, ".asc") == 0);
}

static gpgme_error_t pass_cb(void *hook, const char *uid_hint, const char *info, int prev_bad,
                             int fd)
{
    (void)uid_hint;
    (void)info;
    const char *pw = hook ? hook : "";
    if (prev_bad)
        return gpg_error(GPG_ERR_BAD_PASSPHRASE); /* no second guess */
    size_t n = strlen(pw);
    if (gpgme_io_writen(fd, pw, n) != 0 || gpgme_io_writen(fd, "\n", 1) != 0)
        return gpg_error(GPG_ERR_EIO);
    return 0;
}

/* Whether sig_fpr (the fingerprint, or the long key id, a signature names)
 * is the signer key or one of its subkeys: banks often sign with a
 * signing subkey, whose fingerprint is not the primary's. */
static int fpr_is(const char *fpr, const char *sig_fpr)
{
    size_t n = strlen(fpr), m = strlen(sig_fpr);
    return strcasecmp(fpr, sig_fpr) == 0 ||
           (m >= 16 && m <= n && strcasecmp(fpr + n - m, sig_fpr) == 0);
}

static int signed_by(gpgme_ctx_t ctx, const char *signer_fpr, const char *sig_fpr)
{
    if (fpr_is(signer_fpr, sig_fpr))
        return 1;
    gpgme_key_t key = NULL;
    if (gpgme_get_key(ctx, signer_fpr, &key, 0) != GPG_ERR_NO_ERROR || !key)
        return 0;
    int found = 0;
    for (gpgme_subkey_t k = key->subkeys; k && !found; k = k->next)
        found = k->fpr && fpr_is(k->fpr, sig_fpr);
    gpgme_key_unref(key);
    return found;
}

/* Imports armored key text; *fpr gets the first imported key's fingerprint
 * (malloc'd) when fpr != NULL. */
static int import_key(gpgme_ctx_t ctx, const char *text, const char *what, char **fpr, char **why)
{
    gpgme_data_t d = NULL;
    gpgme_error_t e = gpgme_data_new_from_mem(&d, text, strlen(text), 0);
    if (e) {
        *why = cdc_printf("gpgme: %s: %s", what, gpgme_strerror(e));
        return -1;
    }
    e = gpgme_op_import(ctx, d);
    gpgme_data_release(d);
    if (e) {
        *why = cdc_printf("importing the %s failed: %s", what, gpgme_strerror(e));
        return -1;
    }
    gpgme_import_result_t r = gpgme_op_import_result(ctx);
    if (!r || (r->imported + r->unchanged + r->secret_imported + r->secret_unchanged) == 0 ||
        !r->imports) {
        *why = cdc_printf("the %s holds no usable OpenPGP key", what);
        return -1;
    }
    if (fpr)
        *fpr = r->imports->fpr ? strdup(r->imports->fpr) : NULL;
    return 0;
}

/* Stops the gpg-agent gpgme started for this keyring: the runner process
 * ends, the agent would not. No shell: gpgconf is spawned with argv. */
static void stop_agent(const char *home)
{
    gpgme_ctx_t sc = NULL;
    if (gpgme_new(&sc) != 0)
        return;
    if (gpgme_set_protocol(sc, GPGME_PROTOCOL_SPAWN) == 0) {
        const char *argv[] = {"gpgconf", "--homedir", home, "--kill", "gpg-agent", NULL};
        gpgme_op_spawn(sc, "gpgconf", argv, NULL, NULL, NULL, 0);
    }
    gpgme_release(sc);
}

int bs_pgp_decrypt(const char *in_path, const char *out_path, const char *home,
                   const char *private_key, const char *passphrase, const char *signer_key,
                   char **why)
{
    *why = NULL;
    if (!gpgme_check_version("1.13.0")) {
        *why = cdc_printf("gpgme 1.13 or later is needed");
        return -1;
    }
    if (mkdir(home, 0700) != 0 && errno != EEXIST) {
        *why = cdc_printf("cannot create %s: %s", home, strerror(errno));
        return -1;
    }
    gpgme_ctx_t ctx = NULL;
    gpgme_data_t in = NULL, out = NULL;
    int infd = -1, outfd = -1, rc = -1;
    char *signer_fpr = NULL;
    gpgme_error_t e = gpgme_new(&ctx);
    if (e) {
        *why = cdc_printf("gpgme_new: %s", gpgme_strerror(e));
        goto out;
    }
    if ((e = gpgme_ctx_set_engine_info(ctx, GPGME_PROTOCOL_OpenPGP, NULL, home)) ||
        (e = gpgme_set_pinentry_mode(ctx, GPGME_PINENTRY_MODE_LOOPBACK))) {
        *why = cdc_printf("gpgme setup for %s: %s", home, gpgme_strerror(e));
        goto out;
    }
    gpgme_set_passphrase_cb(ctx, pass_cb, (void *)(passphrase ? passphrase : ""));
    if (import_key(ctx, private_key, "pgp.private_key", NULL, why) != 0)
        goto out;
    if (signer_key && import_key(ctx, signer_key, "pgp.signer_key", &signer_fpr, why) != 0)
        goto out;
    infd = open(in_path, O_RDONLY | O_CLOEXEC);
    outfd = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (infd < 0 || outfd < 0) {
        *why = cdc_printf("cannot open %s: %s", infd < 0 ? in_path : out_path, strerror(errno));
        goto out;
    }
    if ((e = gpgme_data_new_from_fd(&in, infd)) || (e = gpgme_data_new_from_fd(&out, outfd))) {
        *why = cdc_printf("gpgme data: %s", gpgme_strerror(e));
        goto out;
    }
    e = signer_key ? gpgme_op_decrypt_verify(ctx, in, out) : gpgme_op_decrypt(ctx, in, out);
    if (e) {
        *why = cdc_printf("decryption failed: %s", gpgme_strerror(e));
        goto out;
    }
    if (signer_key) {
        gpgme_verify_result_t vr = gpgme_op_verify_result(ctx);
        int good = 0;
        const char *seen = NULL;
        for (gpgme_signature_t s = vr ? vr->signatures : NULL; s; s = s->next) {
            seen = s->fpr;
            /* A good signature by the configured key: the key was imported
             * just now, so "valid" (web of trust) cannot be asked for. */
            if (gpgme_err_code(s->status) == GPG_ERR_NO_ERROR && s->fpr && signer_fpr &&
                signed_by(ctx, signer_fpr, s->fpr))
                good = 1;
        }
        if (!good) {
            *why = seen ? cdc_printf("bad signature: not a good signature by %s (signed by %s)",
                                     signer_fpr ? signer_fpr : "the signer key", seen)
                        : cdc_printf("bad signature: the file is not signed");
            goto out;
        }
    }
    if (fsync(outfd) != 0) {
        *why = cdc_printf("cannot flush %s: %s", out_path, strerror(errno));
        goto out;
    }
    rc = 0;
out:
    if (in)
        gpgme_data_release(in);
    if (out)
        gpgme_data_release(out);
    if (infd >= 0)
        close(infd);
    if (outfd >= 0)
        close(outfd);
    if (ctx)
        gpgme_release(ctx);
    stop_agent(home);
    free(signer_fpr);
    return rc;
}
